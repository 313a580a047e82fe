"""A live session: sources → LiveBuffer → Scheduler → InferenceWorker (→ SessionWriter), Qt-free.

The desktop window and the headless ``monitor`` command both drive this object. It owns the threads of one
monitoring run and shuts them down in order (capture → scheduler → worker → writer). Everything it reports goes
through a ``SessionListener`` on the thread where it happened (source, worker or writer thread); the desktop
bridge turns those calls into queued Qt signals.

Recording can start and stop while monitoring runs: the buffer's taps forward every full-resolution frame and
audio block to the current writer, whose queues are bounded, so neither capture nor the model ever waits on disk.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from core.capture.base import Source, SourceEvent
from core.clock import SessionClock
from core.engine import AnalysisParams, InferenceWorker, LoadRequest, NullListener, WorkerStats
from core.results import WindowResult
from core.ring_buffer import LiveBuffer
from core.scheduler import Mailbox, Scheduler, SchedulerStats
from core.window import Window

log = logging.getLogger(__name__)

SOURCE_STOP_TIMEOUT_S = 3.0
WORKER_STOP_TIMEOUT_S = 10.0
WRITER_STOP_TIMEOUT_S = 10.0
EVERY_WINDOW_POLL_S = 0.005  # analyse_every_window: how often it looks at the buffer and the worker


class SessionListener(NullListener):
    """Worker callbacks (see ``core.engine.WorkerListener``) plus capture and recording events."""

    def source_event(self, event: SourceEvent) -> None: ...
    def recording_started(self, directory: str) -> None: ...
    def recording_stopped(self, directory: str, error: str | None) -> None: ...


@dataclass(frozen=True)
class PipelineStats:
    """One snapshot for the status bar, read at ~1 Hz on the UI thread."""

    session_t: float
    video: Any  # SourceStatus | None
    audio: Any  # SourceStatus | None
    scheduler: SchedulerStats
    worker: WorkerStats
    recording: Any  # WriterStats | None
    buffer_bytes: int


class LiveSession:
    """One monitoring run. Create, ``start()``, optionally ``load_model``/``start_recording``, then ``stop()``.

    ``video`` and ``audio`` may be the same object (a media file delivers both) or None (no camera / no
    microphone); a session without video still records audio but cuts no windows (the scheduler counts them).
    """

    def __init__(
        self,
        video: Source | None,
        audio: Source | None,
        listener: SessionListener | None = None,
        window_s: float | None = None,
        hop_s: float | None = None,
        params: AnalysisParams | None = None,
        clock: SessionClock | None = None,
        loader: Callable[[LoadRequest], Any] | None = None,
    ) -> None:
        from core.scheduler import DEFAULT_HOP_S, DEFAULT_WINDOW_S

        self.listener = listener or SessionListener()
        self.clock = clock or SessionClock()
        self.window_s = float(window_s or DEFAULT_WINDOW_S)
        self.hop_s = float(hop_s or DEFAULT_HOP_S)
        self.buffer = LiveBuffer(self.clock, window_s=self.window_s)
        self.mailbox: Mailbox[Window] = Mailbox()
        self.scheduler = Scheduler(self.buffer, self.mailbox, self.window_s, self.hop_s)
        worker_kwargs = {"loader": loader} if loader is not None else {}
        self.worker = InferenceWorker(self.mailbox, _WorkerBridge(self), self.clock.now, params, **worker_kwargs)
        self._sources: list[Source] = [s for s in dict.fromkeys([video, audio]) if s is not None]
        self.video, self.audio = video, audio
        self._writer: Any = None  # core.session.writer.SessionWriter | None
        self._writer_lock = threading.Lock()
        self._superseded_seen = 0
        self.model_info: dict[str, Any] | None = None  # from the worker once a model is loaded
        self._started = self._stopped = False
        self.buffer.add_listener(on_frame=self._tap_frame, on_audio=self._tap_audio)

    # ---- lifecycle (owning thread) -------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._start_capture()
        self.scheduler.start()

    def _start_capture(self) -> None:
        """The worker, then the sources (pushing into the buffer); the scheduler is the caller's."""
        self.worker.start()
        for src in self._sources:
            src.add_listener(self._on_source_event)
            src.start(self.buffer)

    def analyse_every_window(self, stop: threading.Event | None = None) -> int:
        """Run a finite source (a media file) through every window, as fast as the model allows, instead of in
        real time: the session clock is a ``FakeClock`` that this call moves one hop at a time, and only once
        the previous window's analysis has ended, so no window is superseded. Recording, listeners and results
        work as in a live session. Blocks (call it instead of ``start``) until the source ends, a source fails,
        or ``stop`` is set; then call ``stop()``. Returns the number of windows cut.

        Needs a loaded model (``load_model`` and wait for it), or the windows would wait forever."""
        from core.capture.base import ENDED, ERROR
        from core.clock import FakeClock
        from core.scheduler import MAX_WAIT_S

        if not isinstance(self.clock, FakeClock):
            raise ValueError("every-window analysis needs the session built on a FakeClock (the clock follows "
                             "the model); pass clock=FakeClock()")
        if self._started:
            raise RuntimeError("this session has started already")
        if not self.worker.has_model:
            raise RuntimeError("load a model first: every window waits for its analysis")
        stop = stop or threading.Event()
        self._started = True
        self._start_capture()  # no scheduler thread: windows are cut below, one at a time
        sched, clock = self.scheduler, self.clock

        def finished() -> bool:
            return all(src.status().state in (ENDED, ERROR) for src in self._sources)

        # A source takes its time base from the clock when it starts; the first frame (at that time) says it did.
        while not stop.is_set() and self.buffer.horizons()[0] is None and not finished():
            stop.wait(EVERY_WINDOW_POLL_S)
        sched.start_at(clock.now())
        cut = k = 0
        while not stop.is_set():
            t1 = sched.boundary(k)
            clock.set(max(t1, clock.now()))  # the sources deliver up to t1, then wait for the clock
            ended = False
            while not stop.is_set() and not sched.data_ready(t1):
                if finished():
                    ended = True
                    break
                stop.wait(EVERY_WINDOW_POLL_S)
            if stop.is_set():
                break
            if ended and not sched.video_ready(t1):
                break  # the file ends before this window does
            done = self.worker.stats.analysed + self.worker.stats.failed
            window = sched.tick(now=t1 + (MAX_WAIT_S if ended else 0.0))  # at the end: what audio there is
            k += 1
            if window is None:
                continue
            cut += 1
            while not stop.is_set() and self.worker.stats.analysed + self.worker.stats.failed == done:
                if not self.worker.has_model:
                    raise RuntimeError("the model was unloaded during every-window analysis")
                stop.wait(EVERY_WINDOW_POLL_S)
        return cut

    def file_shorter_than_a_window(self) -> float | None:
        """The length (s) of a media-file source too short for one window, else None."""
        length = getattr(getattr(self.video, "info", None), "duration_s", None)
        return length if length is not None and length < self.window_s else None

    def stop(self) -> bool:
        """Ordered shutdown: capture → scheduler → worker → writer. True when every thread ended."""
        if self._stopped:
            return True
        self._stopped = True
        for src in self._sources:
            try:
                src.stop()
            except Exception:  # noqa: BLE001 — a broken device must not block shutdown
                log.exception("stopping %s failed", getattr(src, "name", src))
        self.scheduler.stop(close_mailbox=True)
        ok = self.worker.stop(WORKER_STOP_TIMEOUT_S)
        return self.stop_recording() and ok

    # ---- model (any thread; served by the worker) -------------------------------------------------------
    def load_model(self, request: LoadRequest) -> None:
        self.worker.load(request)

    def unload_model(self) -> None:
        self.worker.unload()

    def set_params(self, params: AnalysisParams) -> None:
        self.worker.set_params(params)

    # ---- recording -----------------------------------------------------------------------------------
    def manifest(self, usage_notice_accepted: bool = False, model_info: dict[str, Any] | None = None) -> Any:
        """The session manifest for a recording started now: analysis settings, capture devices, and the
        model's folder with a fingerprint of its weights (``model_info`` overrides the model this session
        loaded; none while no model is loaded). Reads the weights' headers: call it off the UI thread."""
        from core.session.manifest import SessionManifest

        params = self.worker.params
        info = dict(model_info or self.model_info or {})
        return SessionManifest.for_model(
            info.get("model_dir"),
            clock_origin_wall=self.clock.wall_at(0.0), window_s=self.window_s, hop_s=self.hop_s,
            instruction=params.instruction, label_set=params.label_set,
            generation={"max_new_tokens": params.max_new_tokens, "do_sample": False,
                        "device": info.get("device"), "dtype": info.get("dtype")},
            devices=self.buffer.source_info(), usage_notice_accepted=usage_notice_accepted,
        )

    def start_recording(self, directory: str, manifest: Any = None, options: Any = None,
                        usage_notice_accepted: bool = False, model_info: dict[str, Any] | None = None) -> bool:
        """Start a session bundle in ``directory`` (core.session). False, with ``recording_stopped`` carrying the
        reason, when it cannot start; monitoring continues either way. Called off the UI thread: it creates the
        folder and writes the manifest."""
        from core.session.writer import SessionWriter

        if manifest is None:
            manifest = self.manifest(usage_notice_accepted, model_info)
        writer = SessionWriter(directory, manifest, options, on_error=self._on_writer_error, clock=self.clock.now)
        if not writer.start():
            self.listener.recording_stopped(str(directory), writer.error)
            return False
        with self._writer_lock:
            old, self._writer = self._writer, writer
        if old is not None:
            old.stop(wait=False)
        self.listener.recording_started(str(directory))
        return True

    def stop_recording(self) -> bool:
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is None:
            return True
        ok = writer.stop(wait=True, timeout=WRITER_STOP_TIMEOUT_S)
        self.listener.recording_stopped(str(writer.directory), writer.error)
        return ok

    @property
    def writer(self) -> Any:
        return self._writer

    def add_marker(self, kind: str, text: str = "") -> dict[str, Any] | None:
        """Log a marker at the current session time; None when not recording."""
        writer = self._writer
        return writer.add_marker(kind, text, t=self.clock.now()) if writer is not None else None

    def stats(self) -> PipelineStats:
        writer = self._writer
        return PipelineStats(
            session_t=self.clock.now(),
            video=self.video.status() if self.video is not None else None,
            audio=self.audio.status() if self.audio is not None else None,
            scheduler=self.scheduler.stats(),
            worker=self.worker.stats,
            recording=writer.stats if writer is not None else None,
            buffer_bytes=self.buffer.capacity_bytes,
        )

    # ---- taps and callbacks (source / worker / writer threads) ---------------------------------------------
    def _tap_frame(self, frame: Any, t: float) -> None:
        writer = self._writer
        if writer is not None:
            writer.write_frame(frame, t)

    def _tap_audio(self, samples: Any, t0: float) -> None:
        writer = self._writer
        if writer is not None:
            writer.write_audio(samples, t0)

    def _on_source_event(self, event: SourceEvent) -> None:
        writer = self._writer
        if writer is not None:
            writer.write_event("device", t=event.t, source=event.source, state=event.kind, detail=event.message)
        self.listener.source_event(event)

    def _on_writer_error(self, message: str) -> None:
        self.listener.error(f"Recording stopped: {message}")

    def _log_superseded(self) -> None:
        writer = self._writer
        superseded = self.mailbox.superseded
        if writer is not None and superseded > self._superseded_seen:
            writer.write_event("superseded", t=self.clock.now(), count=superseded - self._superseded_seen,
                               total=superseded)
        self._superseded_seen = superseded


class _WorkerBridge(NullListener):
    """Forwards worker callbacks to the session listener, and results to the recording first."""

    def __init__(self, session: LiveSession) -> None:
        self._s = session

    def model_loading(self, message: str) -> None:
        self._s.listener.model_loading(message)

    def model_loaded(self, info: dict[str, Any]) -> None:
        self._s.model_info = info
        self._s.listener.model_loaded(info)

    def model_unloaded(self) -> None:
        self._s.model_info = None
        self._s.listener.model_unloaded()

    def window_started(self, window: Window) -> None:
        self._s._log_superseded()
        self._s.listener.window_started(window)

    def token_streamed(self, window_id: int, text: str) -> None:
        self._s.listener.token_streamed(window_id, text)

    def result_ready(self, result: WindowResult, window: Window) -> None:
        writer = self._s.writer
        if writer is not None:
            writer.write_result(result, window)
        self._s.listener.result_ready(result, window)

    def error(self, message: str) -> None:
        writer = self._s.writer
        if writer is not None:
            writer.write_event("error", t=self._s.clock.now(), message=message)
        self._s.listener.error(message)

    def warning(self, message: str) -> None:
        self._s.listener.warning(message)
