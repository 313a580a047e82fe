"""Lane packing: rows for time spans so that no two spans in a row overlap (timeline, ELAN tiers, SVG).

Greedy interval packing, one span at a time, spans in ``t0`` order: a span goes to the first row whose last
span ends by its start. With a row limit, the row that frees first is reused (spans then overlap, as on the
desktop timeline, which shows at most a few rows); without one (exports) a new row is opened.
"""

from __future__ import annotations

TOUCH_S = 1e-6  # a span starting this close after a row's end still fits in that row (float noise)


class LanePacker:
    """Rows for spans added one at a time (``add``), in ``t0`` order. Not thread-safe (one owner)."""

    def __init__(self, max_lanes: int | None = None) -> None:
        self.max_lanes = max_lanes
        self.ends: list[float] = []

    def add(self, t0: float, t1: float) -> int:
        """The row of the span [t0, t1] (seconds)."""
        for i, end in enumerate(self.ends):
            if end <= t0 + TOUCH_S:
                self.ends[i] = t1
                return i
        if self.max_lanes is None or len(self.ends) < self.max_lanes:
            self.ends.append(t1)
            return len(self.ends) - 1
        i = min(range(len(self.ends)), key=self.ends.__getitem__)
        self.ends[i] = t1
        return i

    @property
    def n_lanes(self) -> int:
        """Rows in use, at least 1."""
        return max(1, len(self.ends))


def assign_lanes(spans: list[tuple[float, float]], max_lanes: int | None = None) -> list[int]:
    """Rows for spans sorted by ``t0`` (see ``LanePacker``)."""
    packer = LanePacker(max_lanes)
    return [packer.add(t0, t1) for t0, t1 in spans]
