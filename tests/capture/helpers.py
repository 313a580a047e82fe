"""Small helpers for capture tests: collect events, wait for a condition."""

from __future__ import annotations

from tests.support.waits import wait_for  # noqa: F401 — the capture tests import it from here


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


def is_red(pixel) -> bool:
    """True for a (lossy-coded) pure red RGB pixel: checks channel order survived decoding."""
    r, g, b = (int(v) for v in pixel)
    return r > 200 and g < 60 and b < 60
