"""A plain-text progress line with rate and ETA, on stderr by default.

On a terminal the line is redrawn in place (``\\r``) at most every ``TTY_PERIOD_S``; without one
(CI logs, ``nohup``) a full line is printed every ``LOG_PERIOD_S`` and at the end, so logs stay short.
Called from the thread that runs the loop; never blocks on anything but the stream.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

TTY_PERIOD_S = 0.2
LOG_PERIOD_S = 10.0


def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class Progress:
    """``total`` clips, of which ``done`` were finished by an earlier (resumed) run."""

    def __init__(
        self, total: int, *, done: int = 0, title: str = "", stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic, period_s: float | None = None,
    ) -> None:
        self.total, self.done, self.title = total, done, title
        self.stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._period = period_s if period_s is not None else (TTY_PERIOD_S if self._tty else LOG_PERIOD_S)
        self._clock = clock
        self._start = clock()
        self._new = 0  # clips finished in this process: the rate is measured on these only
        self._failed = 0
        self._last_draw = -float("inf")
        self._note = ""
        self._drawn: tuple[int, int] | None = None  # (done, failed) of the last line drawn

    @property
    def rate(self) -> float | None:
        """Clips per second in this process (None until one is finished)."""
        elapsed = self._clock() - self._start
        return self._new / elapsed if self._new and elapsed > 0 else None

    def line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        parts = [f"{self.title} {self.done}/{self.total} {pct:3.0f}%".strip()]
        rate = self.rate
        if rate:
            parts.append(f"{rate:.2f} clips/s" if rate >= 0.1 else f"{1 / rate:.1f} s/clip")
            parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        else:
            parts.append("-- clips/s, ETA --")
        if self._failed:
            parts.append(f"{self._failed} failed")
        if self._note:
            parts.append(self._note)
        return " | ".join(parts)

    def update(self, n: int = 1, *, failed: bool = False, note: str = "") -> None:
        self.done += n
        self._new += n
        self._failed += int(failed)
        self._note = note
        now = self._clock()
        if now - self._last_draw >= self._period or self.done >= self.total:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        self._drawn = (self.done, self._failed)
        text = self.line()
        if self._tty:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn != (self.done, self._failed):
            self._draw()
        if self._tty:
            self.stream.write("\n")
        self.stream.flush()
