"""The one protocol every capture source follows, its status value, its events, and the sink it feeds.

Threads:
- ``start(sink)`` / ``stop()`` / ``status()`` / ``add_listener()`` are called from the owning thread (the UI thread or
  the pipeline). ``start`` never blocks on a device or a file: opening happens on the source's own thread and a
  failure arrives as an ``error`` event and an ``error`` status.
- The source calls ``sink.push_frame`` / ``sink.push_audio`` and its event listeners from its own thread(s).
  Listeners must return quickly (post a signal, set a flag) and must not call back into the source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from core.clock import SessionClock

log = logging.getLogger(__name__)

# states
RUNNING = "running"
STOPPED = "stopped"  # never started, or stopped by its owner
ENDED = "ended"  # a finite source (file) reached its end
ERROR = "error"  # cannot deliver: open failed, device unplugged, decode error; may be retrying
STATES = (RUNNING, STOPPED, ENDED, ERROR)

# event kinds
EV_STARTED = "started"
EV_ERROR = "error"
EV_WARNING = "warning"
EV_RECONNECTED = "reconnected"
EV_ENDED = "ended"
EV_STOPPED = "stopped"

FPS_WINDOW_S = 2.0  # measured fps averages frame arrivals over this many seconds


class SourceError(RuntimeError):
    """A source cannot be opened or read. The message names the problem and what to do about it."""


@dataclass(frozen=True)
class SourceStatus:
    """A snapshot of a source, safe to read on any thread."""

    state: str = STOPPED
    message: str = ""
    fps: float = 0.0  # measured video frames/s over the last FPS_WINDOW_S
    frames: int = 0  # video frames delivered since start
    dropped_frames: int = 0  # frames the device produced that we never got (timestamp gaps)
    audio_samples: int = 0  # 16 kHz mono samples delivered since start
    audio_overflows: int = 0  # device input overflows (xruns) + internal ring overruns
    audio_rate_hz: int = 0  # the device's (or file's) native sample rate
    reconnects: int = 0
    has_video: bool = False
    has_audio: bool = False
    active: bool = False  # its thread runs: more data may come (False once it ended, failed for good or stopped)
    # A paced source (a file, the test pattern) waiting for the session clock to reach this time before it delivers
    # more; None while it is not waiting. With ``active`` it tells whether data can still arrive at a given clock.
    waiting_until: float | None = None


@dataclass(frozen=True)
class SourceEvent:
    """Something the app should show: ``kind`` is one of started/error/warning/reconnected/ended/stopped."""

    kind: str
    source: str  # the source's display name
    message: str
    t: float  # session seconds
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class CaptureSink(Protocol):
    """What a source pushes into (``core.ring_buffer.LiveBuffer`` is the real one).

    Both push methods are called on the source's thread and must be quick and never block on the consumer.
    """

    clock: SessionClock

    def push_frame(self, frame: np.ndarray, t: float) -> None:
        """frame: uint8 [H, W, 3] RGB, owned by the sink afterwards (the source must not reuse it); t: session s."""

    def push_audio(self, samples: np.ndarray, t0: float, exact: bool = False) -> None:
        """samples: float32 [S] mono at 16 kHz (copied by the sink); t0: session seconds of samples[0]; ``exact``:
        t0 is the samples' presentation time (a file), not the arrival time of a device block (which jitters)."""

    def set_source_info(self, role: str, description: str) -> None:
        """role: 'video' or 'audio'; description: a short human-readable line shown in status and windows."""


@runtime_checkable
class Source(Protocol):
    name: str

    def start(self, sink: CaptureSink) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> SourceStatus: ...

    def add_listener(self, listener: Callable[[SourceEvent], None]) -> None: ...


class _FpsMeter:
    """Frame arrival rate over the last ``FPS_WINDOW_S``; used on one source thread, read anywhere."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self.fps = 0.0

    def tick(self, t: float) -> None:
        self._times.append(t)
        cutoff = t - FPS_WINDOW_S
        i = 0
        while i < len(self._times) and self._times[i] < cutoff:
            i += 1
        if i:
            del self._times[:i]
        if len(self._times) >= 2:
            span = self._times[-1] - self._times[0]
            self.fps = (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()
        self.fps = 0.0


class SourceBase:
    """State, counters, listeners and the worker thread shared by every source.

    Subclasses implement ``_run()`` (called on the worker thread; returns when done or when ``self._stop`` is set)
    and use ``_set_state``, ``_emit``, ``_count_frame`` and ``_count_audio``.
    """

    kind = "source"
    has_video = False
    has_audio = False

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[[SourceEvent], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: CaptureSink | None = None
        self._state = STOPPED
        self._message = ""
        self._fps = _FpsMeter()
        self._frames = 0
        self._dropped = 0
        self._audio_samples = 0
        self._overflows = 0
        self._audio_rate = 0
        self._reconnects = 0
        self._last_frame_t: float | None = None
        self._waiting_until: float | None = None

    # -- owner thread -------------------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[SourceEvent], None]) -> None:
        """Register ``listener(event)``; it is called on the source's thread."""
        self._listeners.append(listener)

    def start(self, sink: CaptureSink) -> None:
        """Start delivering into ``sink``. Returns at once; open failures arrive as events/status."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self.name} is already running")
        self._sink = sink
        self._stop.clear()
        self._fps.reset()
        self._last_frame_t = None
        self._thread = threading.Thread(target=self._thread_main, name=f"capture-{self.kind}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join the worker thread (bounded by ``timeout``). Safe to call twice or before ``start``."""
        self._stop.set()
        self._interrupt()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.1f s", self.name, timeout)
        self._thread = None
        if self._state in (RUNNING, ERROR):
            self._set_state(STOPPED, "stopped")
            self._emit(EV_STOPPED, "stopped")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a finite source to finish; returns True when the worker thread has exited."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def status(self) -> SourceStatus:
        thread = self._thread
        return SourceStatus(
            state=self._state,
            message=self._message,
            fps=self._fps.fps,
            frames=self._frames,
            dropped_frames=self._dropped,
            audio_samples=self._audio_samples,
            audio_overflows=self._overflows,
            audio_rate_hz=self._audio_rate,
            reconnects=self._reconnects,
            has_video=self.has_video,
            has_audio=self.has_audio,
            active=thread is not None and thread.is_alive(),
            waiting_until=self._waiting_until,
        )

    # -- worker thread ------------------------------------------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            self._run()
        except SourceError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a bug or an unexpected library error: report it, never kill the app
            log.exception("%s failed", self.name)
            self._fail(f"{self.name} stopped on an unexpected error: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        raise NotImplementedError

    def _interrupt(self) -> None:
        """Called by ``stop()`` on the owner thread to unblock the worker (close a device, abort a stream)."""

    def _pace(self, t: float) -> bool:
        """Wait until the sink's clock reaches session time ``t`` (real-time pacing); False when stopped. While it
        waits, ``status().waiting_until`` is ``t``: a fake clock's owner can tell that nothing more comes before the
        clock moves."""
        assert self._sink is not None
        self._waiting_until = t
        try:
            return self._sink.clock.sleep_until(t, self._stop)
        finally:
            self._waiting_until = None

    def _now(self) -> float:
        return self._sink.clock.now() if self._sink is not None else time.monotonic()

    def _set_state(self, state: str, message: str = "") -> None:
        self._state = state
        self._message = message

    def _emit(self, kind: str, message: str, **details: Any) -> None:
        event = SourceEvent(kind, self.name, message, self._now(), dict(details))
        if kind in (EV_ERROR, EV_WARNING):
            log.warning("%s: %s", self.name, message)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a faulty listener must not stop capture
                log.exception("listener of %s failed on %s", self.name, kind)

    def _fail(self, message: str) -> None:
        self._set_state(ERROR, message)
        self._emit(EV_ERROR, message)

    def _count_frame(self, t: float, nominal_fps: float = 0.0) -> None:
        """Count one delivered frame; with a nominal rate, a timestamp gap of more than 1.5 periods counts the
        frames that should have been in it as dropped."""
        if nominal_fps > 0 and self._last_frame_t is not None:
            gap_periods = (t - self._last_frame_t) * nominal_fps
            if gap_periods > 1.5:
                self._dropped += round(gap_periods) - 1
        self._last_frame_t = t
        self._frames += 1
        self._fps.tick(t)
