"""The session clock: one time base for audio blocks, video frames, windows, results and log events.

Session time is monotonic seconds since the session started (``t = 0``); ``wall_t0`` is the Unix time of ``t = 0``
so that any session time can be shown or logged as wall time. ``FakeClock`` has the same interface and only moves
when a test (or an accelerated benchmark) tells it to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SessionClock:
    """Monotonic session seconds since construction. Thread-safe: ``now()`` may be called from any thread,
    including an audio callback (it only reads ``time.monotonic``)."""

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._monotonic = monotonic
        self._mono_t0 = monotonic()
        self.wall_t0: float = wall()  # Unix seconds at session t = 0

    def now(self) -> float:
        """Session seconds since t = 0 (float, monotonic, never jumps with the wall clock)."""
        return self._monotonic() - self._mono_t0

    def wall_at(self, t: float) -> float:
        """Unix seconds of session time ``t``."""
        return self.wall_t0 + t

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        """Sleep until session time ``t``; returns False early if ``stop`` gets set. Called on source threads."""
        delay = t - self.now()
        if delay <= 0:
            return True
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)


class SteppedClock(SessionClock):
    """A session clock that moves only when its owner moves it: a file analysed window by window (the clock
    follows the model, not the wall), accelerated benchmarks, tests.

    ``sleep_until`` blocks until another thread advances the clock past ``t`` (or ``stop`` is set), so a real-time
    paced source driven by this clock produces exactly the data that the owner's time says it should.
    """

    def __init__(self, start: float = 0.0, wall_t0: float = 1_700_000_000.0) -> None:
        self._t = float(start)
        self._cond = threading.Condition()
        self.wall_t0 = wall_t0

    def now(self) -> float:
        return self._t

    def set(self, t: float) -> None:
        with self._cond:
            if t < self._t:
                raise ValueError(f"a session clock never goes back ({t} < {self._t})")
            self._t = float(t)
            self._cond.notify_all()

    def advance(self, dt: float) -> float:
        """Move forward by ``dt`` seconds; returns the new time."""
        if dt < 0:
            raise ValueError("a session clock never goes back")
        with self._cond:
            self._t += dt
            self._cond.notify_all()
            return self._t

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        with self._cond:
            while self._t < t:
                if stop is not None and stop.is_set():
                    return False
                self._cond.wait(0.05)  # short wait so a set ``stop`` is seen promptly
        return not (stop is not None and stop.is_set())


FakeClock = SteppedClock  # the name tests use for it
