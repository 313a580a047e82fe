"""Session times as text, the same everywhere (exports, desktop): ``mm:ss.s``, ``h:mm:ss.s`` past an hour."""

from __future__ import annotations

import math

UNKNOWN = "--:--.-"


def clock(t_s: float | None) -> str:
    """Session seconds as ``mm:ss.s`` (``h:mm:ss.s`` past an hour); ``--:--.-`` when unknown.

    Rounds to tenths first and only then splits into hours, minutes and seconds, so 59.96 s reads
    ``01:00.0``, never ``00:60.0``."""
    if t_s is None or not math.isfinite(t_s):
        return UNKNOWN
    sign = "-" if t_s < 0 else ""
    tenths = round(abs(t_s) * 10)
    minutes, tenths_in_min = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    sec = f"{tenths_in_min // 10:02d}.{tenths_in_min % 10}"
    return f"{sign}{hours}:{minutes:02d}:{sec}" if hours else f"{sign}{minutes:02d}:{sec}"


def span(t0_s: float | None, t1_s: float | None) -> str:
    """A window on the session clock: ``00:41.2–00:45.2``."""
    return f"{clock(t0_s)}–{clock(t1_s)}"
