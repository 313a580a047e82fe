"""Small helpers for capture tests: collect events, wait for a condition."""

from __future__ import annotations

import time


class Events:
    """A source listener that records (kind, message) pairs."""

    def __init__(self, source=None) -> None:
        self.items: list = []
        if source is not None:
            source.add_listener(self)

    def __call__(self, event) -> None:
        self.items.append(event)

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.items]

    def messages(self, kind: str) -> list[str]:
        return [e.message for e in self.items if e.kind == kind]


def wait_for(predicate, timeout: float = 5.0, period: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return predicate()


def is_red(pixel) -> bool:
    """True for a (lossy-coded) pure red RGB pixel: checks channel order survived decoding."""
    r, g, b = (int(v) for v in pixel)
    return r > 200 and g < 60 and b < 60
