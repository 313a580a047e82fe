"""A pyqtgraph axis that labels session seconds as mm:ss (mm:ss.s when zoomed in)."""

from __future__ import annotations

import pyqtgraph as pg

from desktop import formatting


class ClockAxis(pg.AxisItem):
    """Bottom axis for session time; tick values are seconds on the session clock."""

    def tickStrings(self, values, scale, spacing):
        if spacing >= 1.0:
            return [formatting.clock(v)[:-2] for v in values]  # whole seconds: drop the tenths
        return [formatting.clock(v) for v in values]
