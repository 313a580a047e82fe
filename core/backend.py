"""The model behind the inference worker: one interface, whatever runs the model.

``InferenceWorker`` (core.engine) owns exactly one ``ModelBackend`` at a time and calls it only from its own thread.
A backend is created cheaply by whoever asks for a model (no I/O in the constructor) and does its work in:

- ``load(progress)``: make the model usable (read weights, connect to a server); returns ``info()``;
- ``warm_up(params)``: pay one-time costs (kernels, caches, CUDA graphs) before the first real window;
- ``analyze(frames, audio, params, on_token, should_stop)``: one window, streaming text deltas through
  ``on_token`` as they are generated; ``should_stop()`` is polled between tokens and a true answer ends the call
  with ``AnalysisCancelled``; a failure part-way (a server lost mid-stream) raises ``BackendError``;
- ``unload()``: free the weights or the connection; the backend may be loaded again afterwards;
- ``info()``: what the model is (JSON-ready): ``backend``, ``model_id``, ``model_dir``, ``weights_hash`` (the
  fingerprint of the weights), ``device``, ``dtype``, ``versions``; a backend may add more (a server's address).

``LocalBackend`` runs the R1-Omni model in this process (CPU or CUDA). A remote backend (a client of the model
server) implements the same methods, so the desktop, the headless monitor and the file runs never know which
one they have.
"""

from __future__ import annotations

import gc
import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core import __version__
from core.window import DEFAULT_MODEL_FRAMES

if TYPE_CHECKING:
    from core.engine import AnalysisParams
    from core.results import AnalysisResult

log = logging.getLogger(__name__)

LOCAL = "local"
REMOTE = "remote"


class BackendError(RuntimeError):
    """A window could not be analysed for a reason outside the model's answer (a lost connection, a server
    error). ``retryable``: the same window may succeed later (the network came back); False for a refusal."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class LoadRequest:
    """A local model to load: the folder and where/how to run it."""

    model_dir: str
    device: str = "auto"  # auto | cuda | cpu
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    warm_up: bool = True
    profile: str = "exact"  # exact | fast (approximate, labelled on every result; core.model.profiles)


class ModelBackend(Protocol):
    """What the inference worker needs of a model. Every method runs on the worker thread."""

    warm_up_wanted: bool

    def load(self, progress: Callable[[str], None]) -> dict[str, Any]: ...
    def warm_up(self, params: AnalysisParams) -> None: ...
    def analyze(self, frames: np.ndarray, audio: np.ndarray | None, params: AnalysisParams,
                on_token: Callable[[str], None] | None, should_stop: Callable[[], bool]) -> AnalysisResult: ...
    def unload(self) -> None: ...
    def info(self) -> dict[str, Any]: ...
    @property
    def num_frames(self) -> int: ...
    def memory_bytes(self) -> int | None: ...


def default_loader(request: LoadRequest) -> Any:
    """The R1-Omni model for ``request`` (``core.model.load_model``); heavy imports happen here, on the worker."""
    from core.model import load_model

    return load_model(request.model_dir, device=request.device, dtype=request.dtype, profile=request.profile)


def warm_up_model(model: Any, num_frames: int, instruction: str, max_new_tokens: int,
                  fallback_tokens: int = 1) -> None:
    """One window of black frames and a second of silence through every stage of ``model`` (blocking). A model
    with ``warm_up`` (``R1OmniModel``) also prepares its decoder (CUDA graph) for windows of up to
    ``max_new_tokens``; any other is asked to ``analyze`` with ``fallback_tokens``."""
    frames = np.zeros((num_frames, 224, 224, 3), np.uint8)
    audio = np.zeros(16_000, np.float32)
    if hasattr(model, "warm_up"):
        model.warm_up(frames, audio, instruction, max_new_tokens)
    else:
        model.analyze(frames, audio, instruction, max_new_tokens=fallback_tokens)


def software_versions() -> dict[str, str]:
    """Versions that decide the numbers a model gives: the app, Python, and torch/transformers where imported."""
    import sys

    versions = {"r1omni_live": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "?"))
    return versions


class LocalBackend:
    """R1-Omni in this process. ``loader(request)`` returns an object with ``R1OmniModel``'s contract
    (``analyze``, ``info``, ``close``, optionally ``warm_up``, ``memory_bytes``, ``num_frames``); tests pass a
    scripted stand-in, the app the default loader."""

    def __init__(self, request: LoadRequest, loader: Callable[[LoadRequest], Any] = default_loader) -> None:
        self.request = request
        self.warm_up_wanted = request.warm_up
        self._loader = loader
        self._model: Any = None
        self._info: dict[str, Any] | None = None

    def load(self, progress: Callable[[str], None]) -> dict[str, Any]:
        req = self.request
        fast = ", fast profile" if req.profile == "fast" else ""
        progress(f"Loading R1-Omni from {req.model_dir} ({req.device}, {req.dtype}{fast})…")
        # Loading builds millions of long-lived objects; each full garbage collection during it walks them all
        # with the GIL held (measured 60-200 ms hitches in the window). Collect nothing while loading, then
        # freeze what was built so later collections skip it.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._model = self._loader(req)
        finally:
            gc.freeze()
            if was_enabled:
                gc.enable()
        self._info = None
        return self.info()

    def warm_up(self, params: AnalysisParams) -> None:
        warm_up_model(self._require(), self.num_frames, params.instruction, params.max_new_tokens)

    def analyze(self, frames: np.ndarray, audio: np.ndarray | None, params: AnalysisParams,
                on_token: Callable[[str], None] | None, should_stop: Callable[[], bool]) -> AnalysisResult:
        return self._require().analyze(
            frames, audio, params.instruction, max_new_tokens=params.max_new_tokens, on_token=on_token,
            label_set=params.label_set, scores=params.scores, should_stop=should_stop,
        )

    def unload(self) -> None:
        model, self._model = self._model, None
        self._info = None
        if model is None:
            return
        try:
            if hasattr(model, "close"):
                model.close()
        finally:
            del model
            free_accelerator_memory()

    def info(self) -> dict[str, Any]:
        if self._info is None:
            model = self._require()
            base = dict(model.info()) if hasattr(model, "info") else {"model_dir": self.request.model_dir}
            base.setdefault("model_dir", self.request.model_dir)
            self._info = {
                **base,
                "backend": LOCAL,
                "model_id": Path(str(base["model_dir"])).name or "R1-Omni",
                "versions": software_versions(),
            }
        return dict(self._info)

    @property
    def num_frames(self) -> int:
        return int(getattr(self._model, "num_frames", DEFAULT_MODEL_FRAMES) or DEFAULT_MODEL_FRAMES)

    def memory_bytes(self) -> int | None:
        """Bytes the model holds: on a GPU what torch has allocated there, else its parameters and buffers."""
        model = self._model
        if model is None:
            return None
        if str(self.info().get("device", "")).startswith("cuda"):
            import torch  # imported by the loaded model already

            return int(torch.cuda.memory_allocated())
        return int(model.memory_bytes()) if hasattr(model, "memory_bytes") else None

    def matches(self, request: LoadRequest) -> bool:
        """The same weights on the same device in the same precision and profile (``warm_up`` aside)."""
        r = self.request
        return (r.model_dir, r.device, r.dtype, r.profile) == (request.model_dir, request.device, request.dtype,
                                                               request.profile)

    def _require(self) -> Any:
        if self._model is None:
            raise RuntimeError("no model is loaded")
        return self._model


def free_accelerator_memory() -> None:
    """Return cached GPU memory to the driver after a model is freed or a window ran out of memory."""
    import sys

    torch = sys.modules.get("torch")  # never import torch just to free nothing
    if torch is None:
        return
    try:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 — best effort, nothing to report
        pass


def is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()
