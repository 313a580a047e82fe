"""The inference worker: one long-lived thread that owns the model and turns Windows into results.

Threading contract (style.md §6–7): the worker is the only thread that touches the model. Windows arrive
through a one-slot latest-wins mailbox (``get(timeout) -> Window | None``); commands (load, unload, new
analysis parameters, stop) arrive through a small command queue and are served between windows, never
while a window is being generated except for cancellation, which is checked between tokens. Everything
leaves through a ``WorkerListener`` whose methods are called *on the worker thread*; the desktop bridge
re-emits them as queued Qt signals, the headless monitor prints them. Listener methods must not block.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from core import labels as _labels
from core.faces import DEFAULT_NUM_FRAMES, FaceChecks
from core.model.preprocess import DEFAULT_INSTRUCTION
from core.results import WindowResult
from core.window import AUDIO_MISSING, Window

log = logging.getLogger(__name__)

# The README instruction of the official release (two spaces before "Output" are part of it).
OFFICIAL_INSTRUCTION = DEFAULT_INSTRUCTION
# The prompt of the official DFEW/MAFW evaluation scripts.
EVALUATION_INSTRUCTION = (
    "As an emotional recognition expert, in the video, when the characters display their emotions, which "
    "predominant feeling is most clearly expressed?\n"
)
INSTRUCTION_PRESETS = {"official": OFFICIAL_INSTRUCTION, "evaluation": EVALUATION_INSTRUCTION}

COMMAND_POLL_S = 0.1  # how long the worker waits on the mailbox before checking commands again
WARMUP_FRAMES = 8


@dataclass(frozen=True)
class AnalysisParams:
    """What the model is asked, per window. Immutable; replaced as a whole when the user changes it."""

    instruction: str = OFFICIAL_INSTRUCTION
    label_set: str = "dfew"  # dfew | mafw | ravdess | free
    max_new_tokens: int = 256
    scores: bool = True  # per-label preference scores after generation

    def __post_init__(self) -> None:
        _labels.label_set(self.label_set)  # raises a readable ValueError for unknown names
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if not self.instruction.strip():
            raise ValueError("the instruction is empty: pick a preset or type a question for the model")


@dataclass(frozen=True)
class LoadRequest:
    model_dir: str
    device: str = "auto"  # auto | cuda | cpu
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    warm_up: bool = True
    profile: str = "exact"  # exact | fast (approximate; core.model.profiles)


class WorkerListener:
    """Callbacks from the worker thread; every method is a no-op here, so subclasses override what they need.
    Implementations must return quickly (post a signal, append to a list) and never call back into the worker."""

    def model_loading(self, message: str) -> None: ...
    def model_loaded(self, info: dict[str, Any]) -> None: ...
    def model_unloaded(self) -> None: ...
    def window_started(self, window: Window) -> None: ...
    def token_streamed(self, window_id: int, text: str) -> None: ...
    def result_ready(self, result: WindowResult, window: Window) -> None: ...
    def error(self, message: str) -> None: ...
    def warning(self, message: str) -> None: ...


NullListener = WorkerListener  # a listener that ignores everything


class WindowSource(Protocol):
    def get(self, timeout: float | None = None) -> Window | None: ...


def _default_loader(req: LoadRequest) -> Any:
    from core.model import load_model  # heavy import (torch, transformers): only on the worker thread

    return load_model(req.model_dir, device=req.device, dtype=req.dtype, profile=req.profile)


def _is_out_of_memory(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def _free_accelerator_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 — best effort, nothing to report
        pass


@dataclass
class WorkerStats:
    """Counters read by the UI at ~1 Hz (plain ints/floats; torn reads are harmless)."""

    analysed: int = 0
    failed: int = 0
    last_latency_s: float | None = None  # window end -> result ready, on the session clock
    last_compute_s: float | None = None  # time spent in analyze()
    busy: bool = False


class InferenceWorker:
    """Owns the model on one thread. ``start()``/``stop()``; commands are thread-safe and non-blocking."""

    def __init__(
        self,
        windows: WindowSource,
        listener: WorkerListener,
        clock: Callable[[], float] = time.monotonic,
        params: AnalysisParams | None = None,
        loader: Callable[[LoadRequest], Any] = _default_loader,
    ) -> None:
        self._windows = windows
        self._listener = listener
        self._clock = clock
        self._params = params or AnalysisParams()
        self._loader = loader
        self._commands: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._cancel = threading.Event()
        self._model: Any = None
        self._audio_missing_warned = False
        self._faces = FaceChecks()
        self.stats = WorkerStats()

    # ---- commands (any thread) -------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="inference-worker", daemon=True)
        self._thread.start()

    def load(self, request: LoadRequest) -> None:
        self._commands.put(("load", request))

    def unload(self) -> None:
        self._cancel.set()
        self._commands.put(("unload", None))

    def set_params(self, params: AnalysisParams) -> None:
        self._commands.put(("params", params))

    def cancel_current(self) -> None:
        """Stop generating the current window at the next token (its partial result is discarded)."""
        self._cancel.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Cancel the current window, unload the model and join the thread. True when it ended."""
        self._stopping.set()
        self._cancel.set()
        self._commands.put(("stop", None))
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def has_model(self) -> bool:
        return self._model is not None

    @property
    def params(self) -> AnalysisParams:
        return self._params

    # ---- worker thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                # Without a model there is nothing to do but wait for a command.
                if self._serve_commands(wait_s=COMMAND_POLL_S if self._model is None else 0.0):
                    break
                if self._model is None:
                    continue
                window = self._windows.get(timeout=COMMAND_POLL_S)
                if window is not None and not self._stopping.is_set():
                    self._analyse(window)
        finally:
            self._release_model()
            self._faces.close()

    def _serve_commands(self, wait_s: float) -> bool:
        """Run pending commands (waiting up to ``wait_s`` for the first); True when the worker must end."""
        while True:
            try:
                kind, arg = self._commands.get(timeout=wait_s) if wait_s > 0 else self._commands.get_nowait()
            except queue.Empty:
                return False
            wait_s = 0.0
            if kind == "stop":
                return True
            if kind == "params":
                self._params = arg
            elif kind == "unload":
                self._release_model()
                self._cancel.clear()
            elif kind == "load":
                self._load(arg)

    def _load(self, req: LoadRequest) -> None:
        self._release_model()
        self._listener.model_loading(f"Loading R1-Omni from {req.model_dir} ({req.device}, {req.dtype})…")
        try:
            model = self._loader(req)
        except Exception as exc:  # noqa: BLE001 — every load failure is shown, the app keeps running
            log.exception("model load failed")
            self._listener.error(f"Could not load the model: {exc}")
            _free_accelerator_memory()
            return
        self._model = model
        if req.warm_up:
            self._listener.model_loading("Warming up…")
            try:
                frames = np.zeros((WARMUP_FRAMES, 224, 224, 3), np.uint8)
                audio = np.zeros(16_000, np.float32)
                if hasattr(model, "warm_up"):  # also prepares the decoder (CUDA graph) for these windows
                    model.warm_up(frames, audio, self._params.instruction, self._params.max_new_tokens)
                else:
                    model.analyze(frames, audio, self._params.instruction, max_new_tokens=1)
            except Exception as exc:  # noqa: BLE001
                log.exception("warm-up failed")
                self._listener.warning(f"Warm-up failed ({exc}); the first window will be slower.")
        self._cancel.clear()
        info = dict(model.info()) if hasattr(model, "info") else {"model_dir": req.model_dir}
        self._listener.model_loaded(info)

    def _release_model(self) -> None:
        if self._model is None:
            return
        model, self._model = self._model, None
        try:
            if hasattr(model, "close"):
                model.close()
        finally:
            del model
            _free_accelerator_memory()
            self._listener.model_unloaded()

    def _analyse(self, window: Window) -> None:
        params = self._params
        self._cancel.clear()
        self.stats.busy = True
        self._listener.window_started(window)
        audio = None if window.audio_status == AUDIO_MISSING else window.audio
        if audio is None and not self._audio_missing_warned:
            self._audio_missing_warned = True
            self._listener.warning("No audio in this window: analysing video only (the model hears nothing).")
        # who is in view, checked on the frames the model samples, beside the model (not before it)
        faces = self._faces.submit(window.frames, getattr(self._model, "num_frames", DEFAULT_NUM_FRAMES))
        started = time.perf_counter()
        try:
            analysis = self._model.analyze(
                window.frames,
                audio,
                params.instruction,
                max_new_tokens=params.max_new_tokens,
                on_token=lambda text: self._listener.token_streamed(window.id, text),
                label_set=params.label_set,
                scores=params.scores,
                should_stop=self._cancel.is_set,
            )
        except Exception as exc:  # noqa: BLE001 — a failed window never kills the worker
            if self._cancel.is_set():
                return  # cancelled mid-generation (AnalysisCancelled): the partial text is not a result
            self.stats.failed += 1
            if _is_out_of_memory(exc):
                _free_accelerator_memory()
                self._listener.error(
                    "Out of memory while analysing a window. Fix: choose float16/bfloat16 precision, lower "
                    "'max new tokens', or switch the device to CPU. Monitoring continues."
                )
            else:
                log.exception("analysis of window %d failed", window.id)
                self._listener.error(f"Analysis of window {window.id} failed: {exc}")
            return
        finally:
            self.stats.busy = False
        if self._cancel.is_set():
            return  # cancelled mid-generation: the partial text is not a result
        compute_s = time.perf_counter() - started
        now = self._clock()
        result = WindowResult(
            window_id=window.id,
            t0=window.t0,
            t1=window.t1,
            wall_t0=window.wall_t0,
            analysis=analysis,
            audio_status=window.audio_status,
            finished_at=now,
            faces=self._faces.result(faces),
        )
        self.stats.analysed += 1
        self.stats.last_compute_s = compute_s
        self.stats.last_latency_s = now - window.t1
        self._listener.result_ready(result, window)


def resolve_instruction(preset: str, custom: str = "") -> str:
    """The instruction for a preset name (``official``, ``evaluation``) or the custom text."""
    if preset == "custom":
        if not custom.strip():
            raise ValueError("the custom instruction is empty")
        return custom
    try:
        return INSTRUCTION_PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown instruction preset {preset!r}: official, evaluation or custom") from None


def default_model_dir() -> Path:
    """Where ``python main.py download`` puts the weights unless told otherwise."""
    import platformdirs

    return Path(platformdirs.user_data_dir("r1omni-live")) / "models" / "R1-Omni-0.5B"
