"""R1-Omni re-implemented on transformers 5.x (see docs: model-spec).

Public API:
    load_model(path, device="auto", dtype="auto") -> R1OmniModel
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

__all__ = ["DEFAULT_INSTRUCTION", "AnalysisCancelled", "ModelLoadError", "R1OmniModel", "load_model"]


def load_model(path: Any, device: str = "auto", dtype: Any = "auto", cache_dir: str | None = None) -> R1OmniModel:
    from core.model.loading import load_model as _load

    return _load(path, device=device, dtype=dtype, cache_dir=cache_dir)


def __getattr__(name: str) -> Any:
    if name == "R1OmniModel":
        from core.model.runtime import R1OmniModel

        return R1OmniModel
    raise AttributeError(name)
