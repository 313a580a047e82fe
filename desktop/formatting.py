"""How numbers read on screen: session times as mm:ss.s, ages, sizes and rates with their units."""

from __future__ import annotations

import math


def clock(t_s: float | None) -> str:
    """Session seconds as ``mm:ss.s`` (``h:mm:ss.s`` past an hour); ``--:--.-`` when unknown."""
    if t_s is None or not math.isfinite(t_s):
        return "--:--.-"
    sign = "-" if t_s < 0 else ""
    tenths = round(abs(t_s) * 10)
    minutes, tenths_in_min = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    sec = f"{tenths_in_min // 10:02d}.{tenths_in_min % 10}"
    return f"{sign}{hours}:{minutes:02d}:{sec}" if hours else f"{sign}{minutes:02d}:{sec}"


def span(t0_s: float, t1_s: float) -> str:
    """A window on the session clock: ``00:41.2–00:45.2``."""
    return f"{clock(t0_s)}–{clock(t1_s)}"


def seconds(value_s: float | None, digits: int = 1) -> str:
    """A duration with its unit: ``1.8 s``, ``350 ms`` below one second, ``—`` when unknown.

    Clock jitter can make a tiny duration negative (a result stamped a hair before its window's end);
    anything above -0.5 ms reads as ``0 ms`` rather than ``-0.0 s``."""
    if value_s is None or not math.isfinite(value_s):
        return "—"
    if -0.0005 < value_s < 0:
        value_s = 0.0
    if -1.0 < value_s < 1.0:  # also a window cut a few ms before its nominal end: "-40 ms", not "-0.0 s"
        return f"{value_s * 1000:.0f} ms"
    return f"{value_s:.{digits}f} s"


def nbytes(n: float | None) -> str:
    """A memory size in binary units: ``3.1 GiB``, ``512 MiB``; ``—`` when unknown."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit in ("B", "KiB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
