"""How numbers read on screen: session times as mm:ss.s, ages, sizes and rates with their units."""

from __future__ import annotations

import math

from core.clock_text import clock, span  # one clock formatter for the app and its exports

__all__ = ["clock", "nbytes", "seconds", "span"]


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
