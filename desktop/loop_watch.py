"""How late the view timer fires: the window's own measure of how long the event loop was busy elsewhere."""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QElapsedTimer

LOOP_SAMPLES = 10_000  # view-timer lateness samples kept (about 5 minutes)


class LoopWatch:
    """How late the view timer fires, i.e. how long the event loop was busy elsewhere (UI thread).

    ``lateness_ms`` keeps the newest ``LOOP_SAMPLES`` values of (interval - period) in ms."""

    def __init__(self, period_ms: int) -> None:
        self.period_ms = period_ms
        self._timer = QElapsedTimer()
        self.lateness_ms: deque[float] = deque(maxlen=LOOP_SAMPLES)
        self.max_stall_ms = 0.0
        self.ticks = 0

    def tick(self) -> None:
        if self._timer.isValid():
            late = self._timer.nsecsElapsed() / 1e6 - self.period_ms
            self.lateness_ms.append(late)
            self.max_stall_ms = max(self.max_stall_ms, late)
        self._timer.restart()
        self.ticks += 1

    def reset(self) -> None:
        self.max_stall_ms = 0.0
        self.ticks = 0
        self.lateness_ms.clear()
        self._timer.invalidate()
