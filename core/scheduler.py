"""Cut a ``Window`` every ``hop_s`` and post it to a one-slot, latest-wins ``Mailbox`` for the inference worker.

Defaults, for R1-Omni (see /docs model facts): the model samples 8 frames uniformly from a window and pads the
window's audio to 30 s (longer audio is cut).
- ``DEFAULT_WINDOW_S = 4.0``: the clips the model was tuned on (DFEW / MAFW) are a few seconds long, so a 4 s window
  matches what it knows; 8 frames over 4 s is 2 frames/s, enough for the course of an expression; 4 s of speech
  carries prosody and a few words; and it stays far below Whisper's 30 s limit (``MAX_WINDOW_S``).
- ``DEFAULT_HOP_S = 2.0``: windows overlap by half, so an expression that straddles a boundary is still seen whole
  in one window, and a GPU (about 1-2 s per window) keeps up; on a CPU (10-30 s per window) the mailbox simply keeps
  the newest window and counts the superseded ones, so results are never stale by more than one window.

Threads: ``start()``/``stop()``/``stats()`` on the owner thread; ``tick()`` on the scheduler thread (or on a test's
thread with a fake clock); ``Mailbox.get`` on the worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from core.ring_buffer import LiveBuffer
from core.window import AUDIO_MISSING, AUDIO_PARTIAL, AUDIO_SILENT, DEFAULT_HOP_S, DEFAULT_WINDOW_S, Window

if TYPE_CHECKING:
    from core.capture.base import SourceStatus

log = logging.getLogger(__name__)

MIN_WINDOW_S = 0.5
MAX_WINDOW_S = 30.0  # Whisper sees at most 30 s; longer windows would silently lose audio
MIN_HOP_S = 0.1  # finer than the 8 frames/s the buffer keeps is pointless, and a tiny hop floods the worker
MAX_HOP_S = 3600.0  # an hour between windows is already a sampling, not monitoring
TICK_S = 0.02  # scheduler thread period (seconds)
MAX_WAIT_S = 0.5  # cut even if a stream has not reached t1 this long after t1 (a stalled or unplugged device)

T = TypeVar("T")


class Mailbox(Generic[T]):
    """One slot, newest wins. ``put`` replaces a pending item (counted as superseded); ``get`` takes it.

    Threads: ``put`` from the scheduler, ``get`` from the worker, ``close`` from the owner (wakes waiters; later
    ``get`` returns None at once, later ``put`` is ignored).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self.posted = 0
        self.superseded = 0
        self.taken = 0

    def put(self, item: T) -> bool:
        """Post ``item``; returns True if it replaced one the worker had not taken yet."""
        with self._cond:
            if self._closed:
                return False
            replaced = self._item is not None
            if replaced:
                self.superseded += 1
            self._item = item
            self.posted += 1
            self._cond.notify_all()
            return replaced

    def get(self, timeout: float | None = None) -> T | None:
        """Take the pending item, waiting up to ``timeout`` seconds (None = forever); None on timeout or close."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._item is not None or self._closed, timeout):
                return None
            item, self._item = self._item, None
            if item is not None:
                self.taken += 1
            return item

    def peek_pending(self) -> bool:
        return self._item is not None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


@dataclass(frozen=True)
class SchedulerStats:
    windows_cut: int  # posted to the mailbox
    skipped_no_video: int  # due windows with no frame in them
    skipped_behind: int  # due windows never cut because a newer one was already due (scheduler late)
    superseded: int  # posted but replaced before the worker took them
    audio_missing: int
    audio_silent: int
    audio_partial: int
    last_window_id: int
    last_latency_s: float | None  # session time at post minus the window's t1
    max_latency_s: float | None


class _HasStatus(Protocol):
    def status(self) -> SourceStatus: ...


@dataclass(frozen=True)
class DataOutlook:
    """Whether the data of the window ending at ``t1`` is in the buffer and, if not, whether it can still arrive
    while the session clock stays where it is. For a run whose clock follows the model (every window of a file).

    - ``ready``: cut the window now.
    - ``finished``: no source runs any more (ended, failed for good, stopped): nothing more will ever arrive; cut
      what there is if the video reaches t1 (``Scheduler.video_ready``), else the file ended before this window.
    - ``resume_at``: every running source waits for the clock to reach a later time (the earliest is given): the
      data up to t1 that exists is all in the buffer and nothing more comes until the clock moves. Move the clock
      to ``resume_at`` if it is within ``MAX_WAIT_S`` of t1 (a hole in the file's stamps, or audio stored after the
      video in the file), else cut what there is, as a live run does ``MAX_WAIT_S`` after t1.
    - none of these: a source is still decoding or reading: wait for it and ask again.
    """

    ready: bool
    finished: bool
    resume_at: float | None

    @property
    def stalled(self) -> bool:
        """The data is not ready and cannot arrive before the clock moves or at all."""
        return not self.ready and (self.finished or self.resume_at is not None)


def check_window_hop(window_s: float, hop_s: float) -> None:
    """Raise ValueError with the fix when ``window_s``/``hop_s`` make no sense for the model (NaN never does)."""
    if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
        raise ValueError(
            f"window_s={window_s} is outside [{MIN_WINDOW_S}, {MAX_WINDOW_S}] s: the model hears at most 30 s of "
            f"audio and needs a span to sample 8 frames from; pick e.g. {DEFAULT_WINDOW_S}"
        )
    if not MIN_HOP_S <= hop_s <= MAX_HOP_S:
        raise ValueError(f"hop_s={hop_s} is outside [{MIN_HOP_S}, {MAX_HOP_S}] s; pick e.g. {DEFAULT_HOP_S}")


class Scheduler:
    """Cuts windows [t1 - window_s, t1] at t1 = start + window_s + k * hop_s from a ``LiveBuffer``.

    A window is cut once the data has reached t1 (newest frame within one kept-frame period of t1 and, if audio is
    flowing, audio up to t1), or ``MAX_WAIT_S`` after t1 in any case, so a stalled microphone delays windows by at
    most that much. When several boundaries are due at once (a slow tick, a file read faster than real time) only
    the newest is cut and the others are counted as ``skipped_behind``.
    """

    def __init__(
        self,
        buffer: LiveBuffer,
        mailbox: Mailbox[Window],
        window_s: float = DEFAULT_WINDOW_S,
        hop_s: float = DEFAULT_HOP_S,
        start_t: float | None = None,
    ) -> None:
        check_window_hop(window_s, hop_s)
        self.buffer = buffer
        self.mailbox = mailbox
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)
        self._start_t = start_t
        self._next_k = 0
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cut = self._no_video = self._behind = 0
        self._missing = self._silent = self._partial = 0
        self._last_latency: float | None = None
        self._max_latency: float | None = None

    def boundary(self, k: int) -> float:
        """Session time t1 of the k-th window."""
        assert self._start_t is not None
        return self._start_t + self.window_s + k * self.hop_s

    def _ready(self, t1: float, now: float) -> bool:
        return now >= t1 + MAX_WAIT_S or self.data_ready(t1)

    def start_at(self, t: float) -> None:
        """Count boundaries from session time ``t`` (the first window ends at ``t + window_s``). Before any tick."""
        if self._start_t is not None:
            raise RuntimeError("the scheduler has started already")
        self._start_t = float(t)

    def video_ready(self, t1: float) -> bool:
        """Whether the buffer holds video up to ``t1`` (within one kept-frame period)."""
        return self._video_covers(self.buffer.horizons()[0], t1)

    def data_ready(self, t1: float) -> bool:
        """Whether the buffer holds the data of a window ending at ``t1``: video (``video_ready``) and, if audio
        is flowing, audio up to t1."""
        video_h, audio_h = self.buffer.horizons()
        if not self._video_covers(video_h, t1):
            return False
        if audio_h is None or audio_h < t1 - self.window_s:
            return True  # no audio flowing: the window goes without it
        return audio_h >= t1 - 1e-6

    def outlook(self, t1: float, sources: Iterable[_HasStatus], now: float) -> DataOutlook:
        """See ``DataOutlook``: ``sources`` are the session's sources, ``now`` the clock's time. The sources are
        read before the buffer, so a source found waiting has pushed everything it will push before ``now``."""
        statuses = [src.status() for src in sources]
        running = [s for s in statuses if s.active]
        wakes = [s.waiting_until for s in running if s.waiting_until is not None and s.waiting_until > now]
        idle = len(wakes) == len(running)  # every running source waits on the clock
        resume_at = min(wakes) if running and idle else None
        return DataOutlook(ready=self.data_ready(t1), finished=not running, resume_at=resume_at)

    def _video_covers(self, video_h: float | None, t1: float) -> bool:
        return video_h is not None and video_h >= t1 - 1.0 / self.buffer.frames.keep_fps

    def tick(self, now: float | None = None) -> Window | None:
        """Cut the newest due window, if any, and post it. Returns the posted window (or None).

        Called every TICK_S by the scheduler thread, or directly by tests driving a fake clock.
        """
        if now is None:
            now = self.buffer.clock.now()
        if self._start_t is None:
            self._start_t = now
        if not self._ready(self.boundary(self._next_k), now):
            return None
        k = self._next_k
        while self._ready(self.boundary(k + 1), now):
            k += 1
        self._behind += k - self._next_k
        self._next_k = k + 1
        t1 = self.boundary(k)
        window = self.buffer.cut_window(self._next_id, t1 - self.window_s, t1)
        if window is None:
            self._no_video += 1
            return None
        self._next_id += 1
        self._cut += 1
        if window.audio_status == AUDIO_MISSING:
            self._missing += 1
        elif window.audio_status == AUDIO_SILENT:
            self._silent += 1
        elif window.audio_status == AUDIO_PARTIAL:
            self._partial += 1
        latency = self.buffer.clock.now() - t1
        self._last_latency = latency
        self._max_latency = latency if self._max_latency is None else max(self._max_latency, latency)
        self.mailbox.put(window)
        return window

    def stats(self) -> SchedulerStats:
        return SchedulerStats(
            windows_cut=self._cut,
            skipped_no_video=self._no_video,
            skipped_behind=self._behind,
            superseded=self.mailbox.superseded,
            audio_missing=self._missing,
            audio_silent=self._silent,
            audio_partial=self._partial,
            last_window_id=self._next_id - 1,
            last_latency_s=self._last_latency,
            max_latency_s=self._max_latency,
        )

    # -- own thread ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Run ``tick`` every TICK_S on a daemon thread until ``stop``. The first window ends window_s from now."""
        if self._thread is not None:
            raise RuntimeError("scheduler already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, close_mailbox: bool = False) -> None:
        """Stop the thread; with ``close_mailbox`` also wake the worker waiting on the mailbox."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        if close_mailbox:
            self.mailbox.close()

    def _loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # keep cutting; a failure here must be visible but not fatal
                log.exception("cutting a window failed")
