"""R1-Omni re-implemented on transformers 5.x (see docs: model-spec).

Public API:
    load_model(path, device="auto", dtype="auto", profile="exact") -> R1OmniModel
    R1OmniModel.analyze(frames, audio, instruction, ...) -> core.results.AnalysisResult
    ModelLoadError (problem + fix), AnalysisCancelled (partial result)
Heavy imports (torch, transformers) happen on first use, not on ``import core.model``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.model.errors import AnalysisCancelled, ModelLoadError
from core.model.preprocess import DEFAULT_INSTRUCTION

if TYPE_CHECKING:
    from core.model.runtime import R1OmniModel

__all__ = [
    "DEFAULT_INSTRUCTION",
    "AnalysisCancelled",
    "ModelLoadError",
    "R1OmniModel",
    "import_runtime",
    "load_model",
]


def import_runtime() -> None:
    """Import torch, transformers and the model code now. That takes seconds and holds the GIL in stretches of
    up to ~0.3 s (extension modules initialising), which stalls every other Python thread: an app calls it on a
    background thread while nothing is live, so that a later model load does not stall a running preview."""
    import core.model.loading
    import core.model.runtime  # noqa: F401


def load_model(path: Any, device: str = "auto", dtype: Any = "auto", cache_dir: str | None = None,
               profile: str = "exact") -> R1OmniModel:
    """See :func:`core.model.loading.load_model`; ``profile``: ``exact`` | ``fast`` (:mod:`core.model.profiles`)."""
    from core.model.loading import load_model as _load

    return _load(path, device=device, dtype=dtype, cache_dir=cache_dir, profile=profile)


def __getattr__(name: str) -> Any:
    if name == "R1OmniModel":
        from core.model.runtime import R1OmniModel

        return R1OmniModel
    raise AttributeError(name)
