"""The inference worker: one long-lived thread that owns the model and turns Windows into results.

One ``InferenceWorker`` lives as long as the app or the command that made it, and it is the only thread that
touches the model, which sits behind a ``core.backend.ModelBackend`` (the local model today; a remote server is a
second backend with the same contract). Loading happens once; live sessions, recordings and file runs come and
go by *attaching* their window source (a one-slot latest-wins mailbox, ``get(timeout) -> Window | None``) and a
``WindowListener``, and detach without waiting for the model: the window in flight is cancelled at its next
token. Commands (load, unload, stop) go through a small queue served between windows; new analysis parameters
are an immutable value read at the start of each window.

Everything leaves as immutable values on the worker thread: model events through a ``ModelListener``, window
events through the attachment's ``WindowListener``; counters are ``WorkerStats`` snapshots. The desktop bridge
re-emits them as queued Qt signals, the headless monitor prints them. Listener methods must not block.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from core import labels as _labels
from core.backend import (
    BackendError,
    LoadRequest,
    LocalBackend,
    ModelBackend,
    default_loader,
    free_accelerator_memory,
    is_out_of_memory,
)
from core.faces import FaceChecks
from core.model.preprocess import DEFAULT_INSTRUCTION
from core.results import WindowResult
from core.window import AUDIO_MISSING, Window, model_frame_indices

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


class ModelListener:
    """Model events from the worker thread: loading progress, loaded (with ``info()``), unloaded, and model-level
    errors and warnings (a failed load, a failed warm-up). Every method is a no-op here; implementations must
    return quickly (post a signal, append to a list) and never call back into the worker."""

    def model_loading(self, message: str) -> None: ...
    def model_loaded(self, info: dict[str, Any]) -> None: ...
    def model_unloaded(self) -> None: ...
    def error(self, message: str) -> None: ...
    def warning(self, message: str) -> None: ...


class WindowListener:
    """Window events for one attachment, from the worker thread. Every ``window_started`` is followed by exactly
    one of ``result_ready``, ``window_failed`` or ``window_cancelled``. Same rules as ``ModelListener``."""

    def window_started(self, window: Window) -> None: ...
    def token_streamed(self, window_id: int, text: str) -> None: ...
    def result_ready(self, result: WindowResult, window: Window) -> None: ...
    def window_failed(self, window: Window, message: str) -> None: ...
    def window_cancelled(self, window: Window) -> None: ...
    def warning(self, message: str) -> None: ...


class WindowSource(Protocol):
    def get(self, timeout: float | None = None) -> Window | None: ...


@dataclass(frozen=True)
class WorkerStats:
    """A snapshot of analysis counters (for a worker, or for one attachment), safe to hand to any thread."""

    analysed: int = 0
    failed: int = 0
    cancelled: int = 0
    last_latency_s: float | None = None  # window end -> result ready, on the session clock
    last_compute_s: float | None = None  # seconds the backend spent on the window
    last_first_token_s: float | None = None  # analysis start -> first streamed text (what a watcher feels)
    last_network_s: float | None = None  # of last_compute_s, the time on the network (a model server), else None
    busy: bool = False

    @property
    def completed(self) -> int:
        return self.analysed + self.failed + self.cancelled


class Attachment:
    """Windows from one place (a live session's mailbox) and where their results go, attached to a worker with
    ``InferenceWorker.attach``. It counts its windows and wakes ``wait_completed`` callers at each end of one, so
    a file run advances on the event instead of polling. Thread-safe."""

    def __init__(self, windows: WindowSource, listener: WindowListener, clock: Callable[[], float]) -> None:
        self.windows = windows
        self.listener = listener
        self.clock = clock
        self._cond = threading.Condition()
        self._stats = WorkerStats()
        self._detached = False
        self.audio_missing_warned = False

    def stats(self) -> WorkerStats:
        return self._stats

    @property
    def detached(self) -> bool:
        return self._detached

    def wait_completed(self, after: int, timeout: float | None = None,
                       unless: Callable[[], bool] = lambda: False) -> bool:
        """Wait until more than ``after`` windows have completed (result, failure or cancellation), this
        attachment is detached, or ``unless()`` holds (checked whenever the worker changes state). True when a
        window completed."""
        with self._cond:
            self._cond.wait_for(lambda: self._stats.completed > after or self._detached or unless(), timeout)
            return self._stats.completed > after

    def wake(self) -> None:
        """Make waiters look at their conditions again (the worker's model or state changed)."""
        with self._cond:
            self._cond.notify_all()

    def _apply(self, change: Callable[[WorkerStats], WorkerStats]) -> None:
        with self._cond:
            self._stats = change(self._stats)
            self._cond.notify_all()

    def _detach(self) -> None:
        with self._cond:
            self._detached = True
            self._cond.notify_all()


class InferenceWorker:
    """Owns the model backend on one thread for the lifetime of an app or a command.

    ``start()``/``stop()``; ``load``/``unload``/``set_params`` and ``attach``/``detach`` are thread-safe and never
    block: a live session, a recording or a file run attaches its mailbox and listener, and detaching cancels the
    window in flight at its next token. The model is loaded once and serves every attachment in turn.
    """

    def __init__(
        self,
        listener: ModelListener | None = None,
        params: AnalysisParams | None = None,
        loader: Callable[[LoadRequest], Any] = default_loader,
        face_check: bool = True,
    ) -> None:
        self._listener = listener or ModelListener()
        self._params = params or AnalysisParams()
        self._loader = loader
        self._commands: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._cancel = threading.Event()
        self._lock = threading.Lock()  # attachment, current window's attachment, backend presence, stats
        self._attachment: Attachment | None = None
        self._current: Attachment | None = None
        self._backend: ModelBackend | None = None  # touched on the worker thread only
        self._model_info: Mapping[str, Any] | None = None
        self._memory_bytes: int | None = None
        self._stats = WorkerStats()
        self._faces = FaceChecks(enabled=face_check)
        self._state = threading.Condition()  # load requests pending / served
        self._loads_pending = 0
        self.loads = 0  # backends loaded over the worker's life

    # ---- commands (any thread, never blocking) -----------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="inference-worker", daemon=True)
        self._thread.start()

    def load(self, what: LoadRequest | ModelBackend) -> None:
        """Load a model: a ``LoadRequest`` (a local folder, through the worker's loader) or any backend. A load
        that names the model already loaded, on the same device and precision, keeps it."""
        self._cancel.set()
        with self._state:
            self._loads_pending += 1
        self._commands.put(("load", what))

    def unload(self) -> None:
        self._cancel.set()
        self._commands.put(("unload", None))

    def set_params(self, params: AnalysisParams) -> None:
        """What the model is asked from the next window on (an immutable value, visible at once)."""
        self._params = params

    def cancel_current(self) -> None:
        """Stop generating the current window at the next token (its partial result is discarded)."""
        self._cancel.set()

    def attach(self, windows: WindowSource, listener: WindowListener,
               clock: Callable[[], float] = time.monotonic) -> Attachment:
        """Serve windows from ``windows`` to ``listener`` (``clock``: the session clock, for latencies) from now
        on, in place of any other attachment, which is detached (its window in flight is cancelled)."""
        attachment = Attachment(windows, listener, clock)
        with self._lock:
            old, self._attachment = self._attachment, attachment
            if old is not None and self._current is old:
                self._cancel.set()
        if old is not None:
            old._detach()
        self._commands.put(("wake", None))
        return attachment

    def detach(self, attachment: Attachment) -> None:
        """Stop serving ``attachment``; its window in flight is cancelled at the next token. Never waits."""
        with self._lock:
            if self._attachment is attachment:
                self._attachment = None
            if self._current is attachment:
                self._cancel.set()
        attachment._detach()

    def stop(self, timeout: float = 10.0) -> bool:
        """Cancel the current window, unload the model and join the thread. True when it ended."""
        self._stopping.set()
        self._cancel.set()
        self._commands.put(("stop", None))
        self._wake_attachments()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- state (any thread) ------------------------------------------------------------------------------
    @property
    def has_model(self) -> bool:
        return self._model_info is not None

    @property
    def model_info(self) -> dict[str, Any] | None:
        """``backend.info()`` of the loaded model (a copy), or None."""
        info = self._model_info
        return dict(info) if info is not None else None

    @property
    def load_pending(self) -> bool:
        """A load was asked for and has not ended yet."""
        return self._loads_pending > 0

    def wait_for_model(self, stop: threading.Event | None = None, timeout: float | None = None) -> bool:
        """Wait while a load is pending (or until ``stop`` is set or ``timeout`` passes); True when a model is
        loaded then. Any thread but the worker's."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._state:
            while self._loads_pending and not (stop is not None and stop.is_set()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._state.wait(COMMAND_POLL_S if left is None else min(left, COMMAND_POLL_S))
        return self.has_model

    @property
    def params(self) -> AnalysisParams:
        return self._params

    def stats(self) -> WorkerStats:
        return self._stats

    def memory_bytes(self) -> int | None:
        """What the loaded model holds (GPU memory allocated on CUDA), as of its load or last window."""
        return self._memory_bytes if self.has_model else None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- worker thread -------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                idle = self._backend is None or self._attachment is None
                if self._serve_commands(wait_s=COMMAND_POLL_S if idle else 0.0):
                    break
                attachment = self._attachment
                if self._backend is None or attachment is None:
                    continue
                window = attachment.windows.get(timeout=COMMAND_POLL_S)
                if window is not None and not self._stopping.is_set():
                    self._analyse(attachment, window)
        finally:
            self._release()
            self._faces.close()
            self._wake_attachments()
            with self._state:  # loads asked for but never served end here, so nobody waits for them
                self._loads_pending = 0
                self._state.notify_all()

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
            if kind == "unload":
                self._release()
            elif kind == "load":
                try:
                    self._load(arg)
                finally:
                    with self._state:
                        self._loads_pending -= 1
                        self._state.notify_all()

    def _load(self, what: LoadRequest | ModelBackend) -> None:
        backend = LocalBackend(what, self._loader) if isinstance(what, LoadRequest) else what
        current = self._backend
        if (isinstance(what, LoadRequest) and isinstance(current, LocalBackend) and current.matches(what)
                and self._model_info is not None):
            self._cancel.clear()
            self._listener.model_loaded(dict(self._model_info))  # the same model: kept, not read again
            return
        self._release()
        try:
            info = backend.load(self._listener.model_loading)
        except Exception as exc:  # noqa: BLE001 — every load failure is shown, the app keeps running
            log.exception("model load failed")
            backend.unload()
            self._listener.error(f"Could not load the model: {exc}")
            free_accelerator_memory()
            return
        self._backend = backend
        self.loads += 1
        if backend.warm_up_wanted:
            self._listener.model_loading("Warming up…")
            try:
                backend.warm_up(self._params)
            except Exception as exc:  # noqa: BLE001
                log.exception("warm-up failed")
                self._listener.warning(f"Warm-up failed ({exc}); the first window will be slower.")
        self._cancel.clear()
        self._memory_bytes = backend.memory_bytes()
        self._model_info = MappingProxyType(dict(info))
        self._listener.model_loaded(dict(info))
        self._wake_attachments()

    def _release(self) -> None:
        backend, self._backend = self._backend, None
        if backend is None:
            return
        self._model_info = None
        self._memory_bytes = None
        try:
            backend.unload()
        except Exception:  # noqa: BLE001 — freeing must not kill the worker
            log.exception("unloading the model failed")
        finally:
            self._listener.model_unloaded()
            self._wake_attachments()

    def _wake_attachments(self) -> None:
        attachment = self._attachment
        if attachment is not None:
            attachment.wake()

    def _analyse(self, attachment: Attachment, window: Window) -> None:
        backend = self._backend
        assert backend is not None
        with self._lock:
            if attachment is not self._attachment:
                return  # detached while its window was being taken: nobody wants the result
            self._current = attachment
            self._cancel.clear()
        params = self._params
        listener = attachment.listener
        self._set_busy(attachment, True)
        try:
            listener.window_started(window)
            self._run_window(backend, attachment, window, params)
        finally:
            with self._lock:
                self._current = None
            self._set_busy(attachment, False)

    def _run_window(self, backend: ModelBackend, attachment: Attachment, window: Window,
                    params: AnalysisParams) -> None:
        listener = attachment.listener
        audio = None if window.audio_status == AUDIO_MISSING else window.audio
        if audio is None and not attachment.audio_missing_warned:
            attachment.audio_missing_warned = True
            listener.warning("No audio in this window: analysing video only (the model hears nothing).")
        picked = model_frame_indices(len(window.frames), backend.num_frames)
        frames = window.frames[picked]
        faces = self._faces.submit_picked(frames)  # who is in view, checked beside the model (not before it)
        started = time.perf_counter()
        first_token: list[float] = []

        def on_token(text: str) -> None:
            if not first_token:
                first_token.append(time.perf_counter() - started)
            listener.token_streamed(window.id, text)

        # Each outcome reaches the listener before it is counted: whoever waits on the count (a file run that
        # then stops its recording) finds the result already handed on.
        try:
            analysis = backend.analyze(frames, audio, params, on_token, self._cancel.is_set)
        except Exception as exc:  # noqa: BLE001 — a failed window never kills the worker
            if self._cancel.is_set():  # cancelled mid-generation (AnalysisCancelled): not a result
                listener.window_cancelled(window)
                self._count(attachment, cancelled=1)
                return
            listener.window_failed(window, self._failure_message(window, exc))
            self._count(attachment, failed=1)
            return
        if self._cancel.is_set():
            listener.window_cancelled(window)
            self._count(attachment, cancelled=1)
            return
        compute_s = time.perf_counter() - started
        now = attachment.clock()
        result = WindowResult(
            window_id=window.id, t0=window.t0, t1=window.t1, wall_t0=window.wall_t0, analysis=analysis,
            audio_status=window.audio_status, finished_at=now, faces=self._faces.result(faces),
            frame_indices=tuple(int(i) for i in picked),
        )
        listener.result_ready(result, window)
        self._memory_bytes = backend.memory_bytes()
        self._count(attachment, analysed=1, last_compute_s=compute_s, last_latency_s=now - window.t1,
                    last_first_token_s=first_token[0] if first_token else None,
                    last_network_s=analysis.timings.get("network"))

    def _failure_message(self, window: Window, exc: BaseException) -> str:
        if is_out_of_memory(exc):
            free_accelerator_memory()
            return ("Out of memory while analysing a window. Fix: choose float16/bfloat16 precision, lower "
                    "'max new tokens', or switch the device to CPU. Monitoring continues.")
        if isinstance(exc, BackendError):
            return f"Window {window.id} was not analysed: {exc}"
        log.error("analysis of window %d failed", window.id, exc_info=exc)
        return f"Analysis of window {window.id} failed: {exc}"

    def _set_busy(self, attachment: Attachment, busy: bool) -> None:
        self._apply(attachment, lambda old: replace(old, busy=busy))

    def _count(self, attachment: Attachment, analysed: int = 0, failed: int = 0, cancelled: int = 0,
               **last: float | None) -> None:
        """Add to the worker's and the attachment's counters (each a new snapshot value: no torn reads)."""
        self._apply(attachment, lambda old: replace(
            old, analysed=old.analysed + analysed, failed=old.failed + failed, cancelled=old.cancelled + cancelled,
            **last))

    def _apply(self, attachment: Attachment, change: Callable[[WorkerStats], WorkerStats]) -> None:
        with self._lock:
            self._stats = change(self._stats)
        attachment._apply(change)


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
