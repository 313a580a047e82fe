"""Polling until a condition holds, for tests that watch another thread."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 5.0, period: float = 0.01) -> bool:
    """True as soon as ``predicate()`` holds; after ``timeout`` seconds, whatever it says last."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())
