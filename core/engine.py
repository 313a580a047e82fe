"""The inference worker: one long-lived thread that owns the model and turns Windows into results.

One ``InferenceWorker`` lives as long as the app or the command that made it, and it is the only thread that
touches the model, which sits behind a ``core.backend.ModelBackend`` (the local model today; a remote server is a
second backend with the same contract). Loading happens once; live sessions, recordings and file runs come and
go by *attaching* their window source (a one-slot latest-wins mailbox, ``get(timeout) -> Window | None``) and a
``WindowListener``, and detach without waiting for the model: the window in flight is cancelled at its next
token. Commands (load, unload, stop) go through a small queue served between windows; new analysis parameters
are an immutable value read at the start of each window.

Everything leaves as immutable values on the worker thread: model events through a ``ModelListener``, window
events through the attachment's ``WindowListener``; counters are ``WorkerStats`` snapshots (these types live in
:mod:`core.attachment`). The desktop bridge re-emits them as queued Qt signals, the headless monitor prints
them. Listener methods must not block.

Attribution (``core.attribution``): a second, lower-priority queue of video-only re-runs of analysed windows. The
worker keeps the inputs of each attachment's newest windows (``Attachment.kept``) so that any of them can be
attributed on demand (``attribute``), and attributes every window itself when automatic attribution is on
(``set_auto_attribution``). A request is served only when no live window waits: after the attachment's mailbox
has stayed empty for one ``COMMAND_POLL_S``, and it yields to a window that arrives meanwhile at the model's next
stop check (between tokens; before the prefill), to run again from the start later. On-demand requests go before
automatic ones; both are cancellable (``cancel_attributions``); loading another model drops them all.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from core import labels as _labels
from core.attachment import (
    Attachment,
    AttributionListener,
    LatestTimings,
    ModelListener,
    WindowListener,
    WindowSource,
    WorkerStats,
)
from core.attribution import (
    ATTRIBUTION_KEPT_WINDOWS,
    AUTO_MODES,
    AUTO_OFF,
    AttributionInputs,
    auto_enabled,
    compare,
)
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
from core.results import AnalysisResult, WindowResult
from core.window import AUDIO_MISSING, Window, model_frame_indices

if TYPE_CHECKING:
    from typing import Unpack

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


@dataclass(eq=False)
class _AttributionJob:
    inputs: AttributionInputs
    listener: AttributionListener
    auto: bool  # queued by automatic attribution (served after on-demand requests)
    attachment: Attachment | None = None  # whose counters it adds to
    cancelled: bool = False  # set under the worker's lock


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
        self._jobs: deque[_AttributionJob] = deque()  # attribution requests, next first (under _lock)
        self._job: _AttributionJob | None = None  # the one running (under _lock)
        self._yield_job = threading.Event()  # a command wants the model: the running attribution stops
        self._auto_mode = AUTO_OFF
        self.keep_windows = ATTRIBUTION_KEPT_WINDOWS  # inputs kept per attachment for attribution on demand

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
        self._yield_job.set()  # after the command is queued: see _run

    def unload(self) -> None:
        self._cancel.set()
        self._commands.put(("unload", None))
        self._yield_job.set()

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
        attachment = Attachment(windows, listener, clock, keep=self.keep_windows)
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

    # ---- attribution (any thread, never blocking) -------------------------------------------------------------
    def set_auto_attribution(self, mode: str) -> None:
        """Attribute every analysed window when the device has spare time: ``core.attribution.AUTO_MODES``
        (``gpu``: only when the model runs on a GPU)."""
        if mode not in AUTO_MODES:
            raise ValueError(f"automatic attribution {mode!r}: use one of {', '.join(AUTO_MODES)}")
        self._auto_mode = mode

    @property
    def auto_attribution(self) -> bool:
        """Windows are attributed automatically now (the setting, for the loaded model's device)."""
        info = self._model_info
        return info is not None and auto_enabled(self._auto_mode, info.get("device"))

    def attribute(self, inputs: AttributionInputs, listener: AttributionListener) -> None:
        """Queue a video-only re-run of ``inputs``' window, before automatic requests; ``listener`` gets its
        events. A request for a window already queued moves it forward; one already running is left alone."""
        self._enqueue(_AttributionJob(inputs, listener, auto=False))

    def attribute_window(self, attachment: Attachment, window_id: int) -> bool:
        """Queue the attribution of one of ``attachment``'s windows from its kept inputs (events go to its
        listener). False when that window's inputs are no longer kept (only the newest ``keep_windows`` are)."""
        inputs = attachment.kept.get(window_id)
        if inputs is None:
            return False
        self._enqueue(_AttributionJob(inputs, attachment.listener, auto=False, attachment=attachment))
        return True

    def cancel_attributions(self, listener: AttributionListener | None = None, window_id: int | None = None) -> None:
        """Drop queued attribution requests (of ``listener``, of ``window_id``; None: any) and stop the running
        one at its next token. Each dropped request gets ``attribution_cancelled``."""
        def hit(job: _AttributionJob) -> bool:
            return ((listener is None or job.listener is listener)
                    and (window_id is None or job.inputs.window_id == window_id))

        with self._lock:
            dropped = [j for j in self._jobs if hit(j)]
            self._jobs = deque(j for j in self._jobs if not hit(j))
            running = self._job
            if running is not None and hit(running):
                running.cancelled = True
        for job in dropped:
            job.listener.attribution_cancelled(job.inputs.window_id)

    def pending_attributions(self, attachment: Attachment | None = None) -> int:
        """Attribution requests queued or running (of ``attachment``'s; None: all)."""
        with self._lock:
            jobs = [*self._jobs, *([self._job] if self._job is not None else [])]
        return sum(attachment is None or j.attachment is attachment for j in jobs)

    def _enqueue(self, job: _AttributionJob) -> None:
        key = job.inputs.key
        with self._lock:
            running = self._job
            if running is not None and running.inputs.key == key and running.listener is job.listener:
                return
            same = [j for j in self._jobs if j.inputs.key == key and j.listener is job.listener]
            for j in same:
                self._jobs.remove(j)
            if job.auto:
                self._jobs.append(job)
                dropped = self._trim_auto_jobs()
            else:
                self._jobs.appendleft(job)
                dropped = []
        for old in dropped:
            self._count_job(old, attributions_dropped=1)
            old.listener.attribution_cancelled(old.inputs.window_id)
        self._commands.put(("wake", None))

    def _trim_auto_jobs(self) -> list[_AttributionJob]:
        """Keep at most ``keep_windows`` automatic requests (the newest); the older ones are dropped. Under _lock."""
        autos = [j for j in self._jobs if j.auto]
        extra = autos[: max(0, len(autos) - max(1, self.keep_windows))]
        for j in extra:
            self._jobs.remove(j)
        return extra

    def stop(self, timeout: float = 10.0) -> bool:
        """Cancel the current window, unload the model and join the thread. True when it ended."""
        self._stopping.set()
        self._cancel.set()
        self._commands.put(("stop", None))
        self._yield_job.set()
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

    # ---- worker thread -------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                idle = self._backend is None or (self._attachment is None and not self._jobs)
                if self._serve_commands(wait_s=COMMAND_POLL_S if idle else 0.0):
                    break
                attachment = self._attachment
                if self._backend is None:
                    continue
                if attachment is not None:
                    # the wait doubles as the test for spare time: attributions run only after it found nothing
                    window = attachment.windows.get(timeout=COMMAND_POLL_S)
                    if window is not None and not self._stopping.is_set():
                        self._analyze(attachment, window)
                        continue
                # cleared before the queue is looked at, and commands set it after queueing: a command either
                # keeps the attribution from starting or stops it at its next token, never waits for it
                self._yield_job.clear()
                if not self._stopping.is_set() and self._commands.empty():
                    self._attribute_next(attachment)
        finally:
            self._drop_jobs()
            self._release()
            self._faces.close(wait=True)  # no thread of the worker outlives stop()
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
        self._drop_jobs()  # their audio-visual answers came from this model: never compare across models
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

    def _analyze(self, attachment: Attachment, window: Window) -> None:
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
            listener.window_failed(window, self._failure_message(window.id, exc))
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
        inputs = self._keep_for_attribution(attachment, result, frames, params)  # before anyone can ask for it
        listener.result_ready(result, window)
        self._memory_bytes = backend.memory_bytes()
        self._count(attachment, analysed=1, last_compute_s=compute_s, last_latency_s=now - window.t1,
                    last_first_token_s=first_token[0] if first_token else None,
                    last_network_s=analysis.timings.get("network"))
        if inputs is not None and self.auto_attribution:
            self._enqueue(_AttributionJob(inputs, attachment.listener, auto=True, attachment=attachment))

    def _keep_for_attribution(self, attachment: Attachment, result: WindowResult, frames: Any,
                              params: AnalysisParams) -> AttributionInputs | None:
        """Keep the window's model frames and question for attribution (on demand, or automatic)."""
        if attachment.kept.capacity == 0 and not self.auto_attribution:
            return None
        inputs = AttributionInputs(result.window_id, result.t0, result.t1, result.wall_t0, frames, params,
                                   result.analysis)
        attachment.kept.add(inputs)
        return inputs

    # ---- attribution (worker thread) ---------------------------------------------------------------------
    def _attribute_next(self, attachment: Attachment | None) -> None:
        """Run the next queued attribution, if any, until it ends or a live window (or a command) wants the
        model; an interrupted one goes back to the front of the queue."""
        backend = self._backend
        with self._lock:
            if not self._jobs or backend is None:
                return
            job = self._jobs.popleft()
            self._job = job
        window_waiting = getattr(attachment.windows, "peek_pending", None) if attachment is not None else None

        def should_stop() -> bool:
            return (job.cancelled or self._yield_job.is_set() or self._attachment is not attachment
                    or (window_waiting is not None and window_waiting()))

        inputs, listener = job.inputs, job.listener
        params = replace(inputs.params, label_set=inputs.audio_visual.label_set or inputs.params.label_set,
                         scores=inputs.audio_visual.scores is not None)
        listener.attribution_started(inputs.window_id)
        started = time.perf_counter()
        try:
            try:
                outcome: AnalysisResult | Exception = backend.analyze(inputs.frames, None, params, None, should_stop)
            except Exception as exc:  # noqa: BLE001 — a failed attribution never kills the worker
                outcome = exc
            seconds = time.perf_counter() - started
            if job.cancelled or self._stopping.is_set():
                listener.attribution_cancelled(inputs.window_id)
            elif should_stop():  # a live window or a command came first: run it again later
                with self._lock:
                    self._jobs.appendleft(job)
                self._count_job(job, attributions_yielded=1)
                listener.attribution_yielded(inputs.window_id)
            elif isinstance(outcome, Exception):
                message = (self._failure_message(inputs.window_id, outcome) if is_out_of_memory(outcome)
                           else f"The video-only run of window {inputs.window_id} failed: {outcome}")
                log.warning("%s", message)
                listener.attribution_failed(inputs.window_id, message)
            else:
                listener.attribution_ready(inputs.window_id, compare(inputs, outcome, seconds))
                self._count_job(job, attributed=1, last_attribution_s=seconds)
        finally:
            with self._lock:
                self._job = None
            if job.attachment is not None:
                job.attachment.wake()  # whoever waits for the attachment's attributions looks again

    def _drop_jobs(self) -> None:
        with self._lock:
            dropped, self._jobs = list(self._jobs), deque()
        for job in dropped:
            job.listener.attribution_cancelled(job.inputs.window_id)
            if job.attachment is not None:
                job.attachment.wake()

    def _count_job(self, job: _AttributionJob, **change: Any) -> None:
        def apply(old: WorkerStats) -> WorkerStats:
            counts = {k: getattr(old, k) + v for k, v in change.items() if not k.startswith("last_")}
            return replace(old, **counts, **{k: v for k, v in change.items() if k.startswith("last_")})

        self._apply(job.attachment, apply)

    def _failure_message(self, window_id: int, exc: BaseException) -> str:
        if is_out_of_memory(exc):
            free_accelerator_memory()
            return ("Out of memory while analysing a window. Fix: choose float16/bfloat16 precision, lower "
                    "'max new tokens', or switch the device to CPU. Monitoring continues.")
        if isinstance(exc, BackendError):
            return f"Window {window_id} was not analysed: {exc}"
        log.error("analysis of window %d failed", window_id, exc_info=exc)
        return f"Analysis of window {window_id} failed: {exc}"

    def _set_busy(self, attachment: Attachment, busy: bool) -> None:
        self._apply(attachment, lambda old: replace(old, busy=busy))

    def _count(self, attachment: Attachment, analysed: int = 0, failed: int = 0, cancelled: int = 0,
               **last: Unpack[LatestTimings]) -> None:
        """Add to the worker's and the attachment's counters (each a new snapshot value: no torn reads)."""
        self._apply(attachment, lambda old: replace(
            old, analysed=old.analysed + analysed, failed=old.failed + failed, cancelled=old.cancelled + cancelled,
            **last))

    def _apply(self, attachment: Attachment | None, change: Callable[[WorkerStats], WorkerStats]) -> None:
        """``change`` the worker's counters and, if there is one, the attachment's."""
        with self._lock:
            self._stats = change(self._stats)
        if attachment is not None:
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
