"""A live session: sources → LiveBuffer → Scheduler → (an attached InferenceWorker) → SessionWriter, Qt-free.

The desktop window and the headless ``monitor`` command both drive this object. It owns the threads of one
monitoring run — capture, scheduler, recording — and shuts them down in order (capture → scheduler → detach from
the worker → writer). It never owns or loads the model: ``start(worker)`` attaches the session's mailbox and
listener to the app's one ``core.engine.InferenceWorker``, and ``stop()`` detaches without waiting for the model
(the window in flight is cancelled at its next token). Everything it reports goes through a ``SessionListener``
on the thread where it happened (source, worker or writer thread); the desktop bridge turns those calls into
queued Qt signals.

Recording can start and stop while monitoring runs: the buffer's taps forward every full-resolution frame and
audio block to the current writer, whose queues are bounded, so neither capture nor the model ever waits on disk.

What the desktop reads while a session runs is its public front: ``now()``, ``latest_frame()``,
``recent_audio(seconds)``, ``audio_status()``, ``stats()`` (a snapshot), ``window_s``/``hop_s``; and what it asks
of the model about the session's windows: ``request_attribution(window_id)`` (what did the voice add?), whose
result is logged beside the window (an ``attribution`` event) when recording, then reported to the listener.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.attribution import ATTRIBUTION_EVENT, Attribution
from core.capture.base import Source, SourceEvent, SourceStatus
from core.clock import SessionClock, SteppedClock
from core.engine import Attachment, InferenceWorker, WindowListener, WorkerStats
from core.results import WindowResult
from core.ring_buffer import LatestFrame, LiveBuffer
from core.scheduler import (
    DEFAULT_HOP_S,
    DEFAULT_WINDOW_S,
    MAX_WAIT_S,
    DataOutlook,
    Mailbox,
    Scheduler,
    SchedulerStats,
    check_window_hop,
)
from core.window import MODEL_SAMPLE_RATE_HZ, Window

log = logging.getLogger(__name__)

SOURCE_STOP_TIMEOUT_S = 3.0
WRITER_STOP_TIMEOUT_S = 10.0
EVERY_WINDOW_STALL_S = 15.0  # every-window run: a source that delivers nothing this long (wall time) has stalled
EVERY_WINDOW_CHECK_S = 0.5  # how often a waiting every-window run looks at ``stop`` (completions wake it at once)


class SessionListener(WindowListener):
    """Window events (``core.engine.WindowListener``) plus capture, recording and session errors."""

    def source_event(self, event: SourceEvent) -> None: ...
    def recording_started(self, directory: str) -> None: ...
    def recording_stopped(self, directory: str, error: str | None) -> None: ...
    def error(self, message: str) -> None: ...


class EveryWindowError(RuntimeError):
    """An every-window run cannot go on (no model, the model unloaded, a source that stalled)."""


@dataclass(frozen=True)
class PipelineStats:
    """One snapshot for the status bar, read at ~1 Hz on the UI thread."""

    session_t: float
    video: SourceStatus | None
    audio: SourceStatus | None
    scheduler: SchedulerStats
    worker: WorkerStats  # this session's windows
    recording: Any  # core.session.writer.WriterStats | None
    buffer_bytes: int


class LiveSession:
    """One monitoring run. Create (with the app's worker, or None to capture and record without analysis),
    ``start()``, optionally ``start_recording``, then ``stop()``.

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
        clock: SessionClock | None = None,
        worker: InferenceWorker | None = None,
    ) -> None:
        self.listener = listener or SessionListener()
        self.clock = clock or SessionClock()
        self.window_s = DEFAULT_WINDOW_S if window_s is None else float(window_s)
        self.hop_s = DEFAULT_HOP_S if hop_s is None else float(hop_s)
        check_window_hop(self.window_s, self.hop_s)
        self.buffer = LiveBuffer(self.clock, window_s=self.window_s)
        self.mailbox: Mailbox[Window] = Mailbox()
        self.scheduler = Scheduler(self.buffer, self.mailbox, self.window_s, self.hop_s)
        self._sources: list[Source] = [s for s in dict.fromkeys([video, audio]) if s is not None]
        self.video, self.audio = video, audio
        self._worker = worker
        self._attachment: Attachment | None = None
        self._writer: Any = None  # core.session.writer.SessionWriter | None
        self._writer_lock = threading.Lock()
        self._superseded_seen = 0
        self._data_arrived = threading.Event()
        self._started = self._stopped = False
        self.buffer.add_listener(on_frame=self._tap_frame, on_audio=self._tap_audio)

    # ---- lifecycle (owning thread) -------------------------------------------------------------------
    def start(self) -> None:
        """Start capture and the scheduler, with the windows going to the worker. Returns at once."""
        if self._started:
            return
        self._started = True
        self._attach()
        self._start_sources()
        self.scheduler.start()

    def _attach(self) -> None:
        if self._worker is not None:
            self._attachment = self._worker.attach(self.mailbox, _SessionSink(self), self.clock.now)

    def _start_sources(self) -> None:
        for src in self._sources:
            src.add_listener(self._on_source_event)
            src.start(self.buffer)

    def analyze_every_window(self, stop: threading.Event | None = None) -> int:
        """Run a finite source (a media file) through every window, as fast as the model allows, instead of in
        real time: the session clock is a ``SteppedClock`` that this call moves one hop at a time, and only once
        the previous window's analysis has ended (it wakes on the worker's completion event), so no window is
        superseded. Recording and listeners work as in a live session. Blocks (call it instead of ``start``)
        until the source ends, a source fails, or ``stop`` is set; then call ``stop()``. Returns the number of
        windows cut. Raises ``EveryWindowError`` without a loaded model, when the model is unloaded during the
        run, or when a source stops delivering data it has not finished (instead of waiting forever)."""
        if not isinstance(self.clock, SteppedClock):
            raise ValueError("every-window analysis needs the session built on a SteppedClock (the clock follows "
                             "the model); pass clock=SteppedClock()")
        if self._started:
            raise RuntimeError("this session has started already")
        worker = self._worker
        if worker is None or not worker.has_model:
            raise EveryWindowError("load a model first: every window waits for its analysis")
        stop = stop or threading.Event()
        self._started = True
        self._attach()
        self._start_sources()  # no scheduler thread: windows are cut below, one at a time
        sched, clock = self.scheduler, self.clock
        attachment = self._attachment
        assert attachment is not None

        # A source takes its time base from the clock when it starts; the first frame (at that time) says it did.
        deadline = time.monotonic() + EVERY_WINDOW_STALL_S
        while not stop.is_set() and self.buffer.horizons()[0] is None and not self._sources_finished():
            self._wait_for_data(stop, deadline)
        sched.start_at(clock.now())
        cut = k = 0
        while not stop.is_set():
            t1 = sched.boundary(k)
            clock.set(max(t1, clock.now()))  # the sources deliver up to t1, then wait for the clock
            outlook = self._wait_for_outlook(t1, stop)
            if stop.is_set():
                break
            if not outlook.ready and outlook.finished and not sched.video_ready(t1):
                break  # the file ends before this window does
            done = attachment.stats().completed
            # not ready: nothing more can come for this window, cut what there is as a live run does MAX_WAIT_S
            # after t1 (the end of the file, or a hole in its stamps longer than that)
            window = sched.tick(now=t1 if outlook.ready else t1 + MAX_WAIT_S)
            k += 1
            if window is None:
                continue
            cut += 1
            self._wait_for_analysis(worker, attachment, done, stop)
            if worker.auto_attribution:  # nothing is live in a file run: each window is attributed before the next
                self._wait_for_attributions(worker, attachment, stop)
        return cut

    def _sources_finished(self) -> bool:
        """No source runs any more (ended, failed for good or stopped): nothing more will arrive."""
        return not any(src.status().active for src in self._sources)

    def _wait_for_data(self, stop: threading.Event, deadline: float) -> bool:
        """Wait up to ``EVERY_WINDOW_CHECK_S`` for the next frame, audio block or source event; True when one
        came. Raises ``EveryWindowError`` when none has come since ``deadline`` (monotonic seconds) although the
        sources neither ended nor wait for the clock: they stalled."""
        if self._data_arrived.wait(EVERY_WINDOW_CHECK_S):
            return True
        if not stop.is_set() and time.monotonic() > deadline and not self._sources_finished():
            video_h, audio_h = self.buffer.horizons()
            raise EveryWindowError(
                f"the source stopped delivering data at {self.clock.now():.2f} s without ending (video up to "
                f"{_at(video_h)}, audio up to {_at(audio_h)}); the file may be damaged: re-encode it (e.g. "
                "ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4)")
        return False

    def _wait_for_outlook(self, t1: float, stop: threading.Event) -> DataOutlook:
        """Wait until the window ending at ``t1`` can be cut (``Scheduler.outlook``): its data is in the buffer,
        or no more of it can come (the sources finished, or they wait for a clock time more than ``MAX_WAIT_S``
        past ``t1``). A hole in the file's stamps closer than that moves the clock to where the data resumes."""
        deadline = time.monotonic() + EVERY_WINDOW_STALL_S
        while True:
            self._data_arrived.clear()  # before the check: data that lands after it wakes the wait below
            now = self.clock.now()
            outlook = self.scheduler.outlook(t1, self._sources, now)
            if stop.is_set() or outlook.ready or (
                    outlook.stalled and (outlook.finished or (outlook.resume_at or 0.0) > t1 + MAX_WAIT_S)):
                return outlook
            if outlook.resume_at is not None:
                assert isinstance(self.clock, SteppedClock)
                self.clock.set(max(outlook.resume_at, now))  # the data after the hole comes once the clock moves
                continue
            if self._wait_for_data(stop, deadline):
                deadline = time.monotonic() + EVERY_WINDOW_STALL_S

    def _wait_for_analysis(self, worker: InferenceWorker, attachment: Attachment, done: int,
                           stop: threading.Event) -> None:
        while not attachment.wait_completed(done, EVERY_WINDOW_CHECK_S, unless=lambda: not worker.has_model):
            if stop.is_set() or attachment.detached:
                return
            if not worker.has_model:
                raise EveryWindowError("the model was unloaded during every-window analysis")

    def _wait_for_attributions(self, worker: InferenceWorker, attachment: Attachment, stop: threading.Event) -> None:
        def settled() -> bool:
            return worker.pending_attributions(attachment) == 0 or not worker.has_model

        while not settled() and not stop.is_set() and not attachment.detached:
            attachment.wait_completed(attachment.stats().completed, EVERY_WINDOW_CHECK_S, unless=settled)

    def file_shorter_than_a_window(self) -> float | None:
        """The length (s) of a media-file source too short for one window, else None."""
        length = getattr(getattr(self.video, "info", None), "duration_s", None)
        return length if length is not None and length < self.window_s else None

    def stop(self) -> bool:
        """Ordered shutdown: capture → scheduler → detach from the worker → writer. Never waits for the model.
        True when every thread of the session ended."""
        ok = self.stop_capture()
        return self.stop_recording() and ok

    def stop_capture(self) -> bool:
        """Stop the sources and the scheduler and detach from the worker (the window in flight is cancelled at
        its next token); a recording goes on until ``stop_recording``. True when the capture threads ended."""
        if self._stopped:
            return True
        self._stopped = True
        ok = True
        for src in self._sources:
            try:
                src.stop()
            except Exception:  # noqa: BLE001 — a broken device must not block shutdown
                log.exception("stopping %s failed", getattr(src, "name", src))
                ok = False
        self.scheduler.stop(close_mailbox=True)
        if self._worker is not None and self._attachment is not None:
            self._worker.detach(self._attachment)
        return ok

    # ---- attribution (any thread) ----------------------------------------------------------------------------
    def request_attribution(self, window_id: int) -> bool:
        """Ask the worker for a video-only re-run of one of this session's newest windows; its events reach the
        listener (``attribution_*``). False when no model worker serves this session or the window's inputs are
        no longer kept (``InferenceWorker.keep_windows`` newest)."""
        worker, attachment = self._worker, self._attachment
        return worker is not None and attachment is not None and worker.attribute_window(attachment, window_id)

    def cancel_attributions(self) -> None:
        """Drop this session's queued attribution requests and stop the running one."""
        if self._worker is not None and self._attachment is not None:
            self._worker.cancel_attributions(self._attachment.listener)

    # ---- what the window reads (any thread) --------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def latest_frame(self) -> LatestFrame | None:
        return self.buffer.latest_frame()

    def recent_audio(self, seconds: float) -> tuple[np.ndarray, int, float] | None:
        """(float32 [S] samples, rate Hz, session time of the last sample) of the last ``seconds``, or None
        without audio."""
        if self.audio is None or not self.audio.status().has_audio:
            return None
        _, horizon = self.buffer.horizons()
        if horizon is None:
            return None
        return self.buffer.recent_audio(seconds), MODEL_SAMPLE_RATE_HZ, horizon

    def audio_status(self) -> SourceStatus | None:
        return self.audio.status() if self.audio is not None else None

    @property
    def audio_name(self) -> str | None:
        return getattr(self.audio, "name", None) if self.audio is not None else None

    def stats(self) -> PipelineStats:
        writer = self._writer
        attachment = self._attachment
        return PipelineStats(
            session_t=self.clock.now(),
            video=self.video.status() if self.video is not None else None,
            audio=self.audio_status(),
            scheduler=self.scheduler.stats(),
            worker=attachment.stats() if attachment is not None else WorkerStats(),
            recording=writer.stats if writer is not None else None,
            buffer_bytes=self.buffer.capacity_bytes,
        )

    # ---- recording -----------------------------------------------------------------------------------
    def manifest(self, usage_notice_accepted: bool = False, model_info: dict[str, Any] | None = None) -> Any:
        """The session manifest for a recording started now: analysis settings, capture devices, and the
        model's folder with a fingerprint of its weights (``model_info`` overrides the attached worker's model;
        none while no model is loaded). Reads the weights' headers: call it off the UI thread."""
        from core.engine import AnalysisParams
        from core.session.manifest import SessionManifest

        worker = self._worker
        params = worker.params if worker is not None else AnalysisParams()
        info = dict(model_info or (worker.model_info if worker is not None else None) or {})
        return SessionManifest.for_backend(
            info,
            clock_origin_wall=self.clock.wall_at(0.0), window_s=self.window_s, hop_s=self.hop_s,
            instruction=params.instruction, label_set=params.label_set,
            generation={"max_new_tokens": params.max_new_tokens, "do_sample": False,
                        "device": info.get("device"), "dtype": info.get("dtype"),
                        # why this precision ("bfloat16: the CPU has AMX"), and exact or fast (approximate)
                        "precision": info.get("precision"), "profile": info.get("profile", "exact"),
                        "profile_detail": info.get("profile_detail")},
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

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def add_marker(self, kind: str, text: str = "") -> dict[str, Any] | None:
        """Log a marker at the current session time; None when not recording."""
        writer = self._writer
        return writer.add_marker(kind, text, t=self.clock.now()) if writer is not None else None

    # ---- taps and callbacks (source / worker / writer threads) ---------------------------------------------
    def _tap_frame(self, frame: Any, t: float) -> None:
        self._data_arrived.set()
        writer = self._writer
        if writer is not None:
            writer.write_frame(frame, t)

    def _tap_audio(self, samples: Any, t0: float) -> None:
        self._data_arrived.set()
        writer = self._writer
        if writer is not None:
            writer.write_audio(samples, t0)

    def _on_source_event(self, event: SourceEvent) -> None:
        self._data_arrived.set()  # an ended or failed source wakes an every-window run too
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

    def _log_error(self, message: str) -> None:
        writer = self._writer
        if writer is not None:
            writer.write_event("error", t=self.clock.now(), message=message)


def _at(t: float | None) -> str:
    return "nothing" if t is None else f"{t:.2f} s"


class _SessionSink(WindowListener):
    """The session's side of its attachment (worker thread): the recording first, then the listener."""

    def __init__(self, session: LiveSession) -> None:
        self._s = session

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

    def window_failed(self, window: Window, message: str) -> None:
        self._s._log_error(message)
        self._s.listener.window_failed(window, message)
        self._s.listener.error(message)

    def window_cancelled(self, window: Window) -> None:
        self._s.listener.window_cancelled(window)

    def warning(self, message: str) -> None:
        self._s.listener.warning(message)

    def attribution_started(self, window_id: int) -> None:
        self._s.listener.attribution_started(window_id)

    def attribution_ready(self, window_id: int, attribution: Attribution) -> None:
        writer = self._s.writer
        if writer is not None:
            writer.write_event(ATTRIBUTION_EVENT, t=self._s.clock.now(), **attribution.to_dict())
        self._s.listener.attribution_ready(window_id, attribution)

    def attribution_failed(self, window_id: int, message: str) -> None:
        self._s._log_error(message)
        self._s.listener.attribution_failed(window_id, message)

    def attribution_cancelled(self, window_id: int) -> None:
        self._s.listener.attribution_cancelled(window_id)

    def attribution_yielded(self, window_id: int) -> None:
        self._s.listener.attribution_yielded(window_id)
