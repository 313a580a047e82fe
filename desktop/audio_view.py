"""Microphone level meter (dBFS, peak hold) and the last seconds of waveform on the session clock."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QStackedLayout, QWidget

from desktop import theme
from desktop.timeline_axis import ClockAxis

WAVEFORM_SPAN_S = 5.0
LEVEL_WINDOW_S = 0.05  # the meter shows the last 50 ms
METER_FLOOR_DB = -60.0
METER_YELLOW_DB = -12.0
METER_RED_DB = -3.0
PEAK_HOLD_DECAY_DB_PER_S = 12.0
WAVEFORM_BINS = 800  # min/max pairs drawn, whatever the sample rate
METER_PAD_PX = 6  # room above and below the bar for the scale labels


def dbfs(x: np.ndarray) -> tuple[float, float]:
    """(RMS, peak) of float32 samples in dBFS, floored at ``METER_FLOOR_DB``."""
    if x.size == 0:
        return METER_FLOOR_DB, METER_FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    peak = float(np.max(np.abs(x)))
    def to_db(v: float) -> float:
        return max(20.0 * np.log10(v), METER_FLOOR_DB) if v > 0 else METER_FLOOR_DB

    return to_db(rms), to_db(peak)


def min_max_envelope(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Peak-preserving decimation: (x_index float64 [2*bins], y float32 [2*bins]) alternating min/max."""
    n = x.size // bins
    if n < 2:
        return np.arange(x.size, dtype=np.float64), x.astype(np.float32, copy=False)
    blocks = x[: n * bins].reshape(bins, n)
    y = np.empty(2 * bins, np.float32)
    y[0::2] = blocks.min(axis=1)
    y[1::2] = blocks.max(axis=1)
    idx = np.repeat(np.arange(bins, dtype=np.float64) * n, 2) + np.tile([0.0, n / 2], bins)
    return idx, y


class LevelMeter(QWidget):
    """A vertical RMS bar with a decaying peak-hold tick, green/yellow/red zones. UI thread only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rms_db = METER_FLOOR_DB
        self.peak_db = METER_FLOOR_DB
        self._hold_db = METER_FLOOR_DB
        self.setFixedWidth(34)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setToolTip(self.tr("Microphone level (dBFS): bar = RMS of the last 50 ms, tick = peak hold"))

    def set_level(self, rms_db: float, peak_db: float, dt_s: float) -> None:
        self.rms_db, self.peak_db = rms_db, peak_db
        self._hold_db = max(peak_db, self._hold_db - PEAK_HOLD_DECAY_DB_PER_S * dt_s)
        self.update()

    def _y(self, db: float, h: float) -> float:
        frac = (min(max(db, METER_FLOOR_DB), 0.0) - METER_FLOOR_DB) / -METER_FLOOR_DB
        return h - frac * h

    def paintEvent(self, event) -> None:
        t = theme.current()
        p = QPainter(self)
        w, h = self.width(), self.height() - 2 * METER_PAD_PX
        p.translate(0, METER_PAD_PX)
        bar = QRectF(14, 0, w - 16, h)
        p.fillRect(bar, QColor(t.base))
        for lo, hi, colour in (
            (METER_FLOOR_DB, METER_YELLOW_DB, "#2ca25f"),
            (METER_YELLOW_DB, METER_RED_DB, "#e6c229"),
            (METER_RED_DB, 0.0, "#d7301f"),
        ):
            y_lo, y_hi = self._y(lo, h), self._y(min(hi, max(self.rms_db, lo)), h)
            if self.rms_db > lo:
                p.fillRect(QRectF(bar.left(), y_hi, bar.width(), y_lo - y_hi), QColor(colour))
        p.setPen(QColor(t.text))
        y_hold = self._y(self._hold_db, h)
        p.drawLine(int(bar.left()), int(y_hold), int(bar.right()), int(y_hold))
        p.setPen(QColor(t.muted))
        font = p.font()
        font.setPointSizeF(6.5)
        p.setFont(font)
        for db in (0, -12, -24, -36, -48):
            y = self._y(db, h)
            p.drawLine(10, int(y), 13, int(y))
            p.drawText(
                QRectF(0, y - 5, 11, 10),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                str(-db),
            )
        p.end()


class AudioView(QWidget):
    """Level meter + waveform of the last ``WAVEFORM_SPAN_S`` seconds; x is session time.

    Fed by the display timer with ``set_audio``; ``set_selection`` shades a window's audio span.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        t = theme.current()
        self.meter = LevelMeter()
        self._plot = pg.PlotWidget(axisItems={"bottom": ClockAxis("bottom")})
        self._plot.setMenuEnabled(False)
        self._plot.setMouseEnabled(x=False, y=False)
        self._plot.hideButtons()
        self._plot.setYRange(-1.0, 1.0, padding=0.02)
        self._plot.getAxis("left").setWidth(34)
        self._plot.getAxis("left").setTicks([[(-1, "-1"), (0, "0"), (1, "1")]])
        self._plot.setLabel("left", "")
        self._curve = self._plot.plot(pen=pg.mkPen("#6fc2a0", width=1))
        self._selection = pg.LinearRegionItem(
            movable=False, brush=pg.mkBrush(74, 163, 255, 50), pen=pg.mkPen(t.accent)
        )
        self._selection.hide()
        self._plot.addItem(self._selection)
        self._plot.setMinimumHeight(70)

        self._empty = QLabel()
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setStyleSheet(f"color: {t.muted}; background: {t.panel}; padding: 8px;")
        self._stack = QStackedLayout()
        host = QWidget()
        host.setLayout(self._stack)
        self._stack.addWidget(self._plot)
        self._stack.addWidget(self._empty)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.meter)
        layout.addWidget(host, 1)

    def set_audio(self, samples: np.ndarray, rate_hz: float, t_end_s: float, dt_s: float = 1 / 30) -> None:
        """Draw float32 [S] mono ``samples`` whose last sample is at session time ``t_end_s``."""
        self._stack.setCurrentWidget(self._plot)
        recent = samples[-max(1, int(LEVEL_WINDOW_S * rate_hz)) :]
        self.meter.set_level(*dbfs(recent), dt_s)
        tail = samples[-int(WAVEFORM_SPAN_S * rate_hz) :]
        idx, y = min_max_envelope(tail, WAVEFORM_BINS)
        x = t_end_s - (tail.size - idx) / rate_hz
        self._curve.setData(x, y)
        self._plot.setXRange(t_end_s - WAVEFORM_SPAN_S, t_end_s, padding=0)

    def set_unavailable(self, message: str) -> None:
        """No microphone (or it went away): say so plainly in place of the waveform."""
        self._empty.setText(message)
        self._stack.setCurrentWidget(self._empty)
        self.meter.set_level(METER_FLOOR_DB, METER_FLOOR_DB, 10.0)

    @property
    def unavailable_text(self) -> str:
        return self._empty.text() if self._stack.currentWidget() is self._empty else ""

    def apply_theme(self, t: theme.Theme) -> None:
        for line in self._selection.lines:
            line.setPen(pg.mkPen(t.accent))

    def set_selection(self, t0_s: float | None, t1_s: float | None) -> None:
        """Shade the audio span ``[t0, t1]`` of the selected window (hidden with ``None``)."""
        if t0_s is None or t1_s is None:
            self._selection.hide()
            return
        self._selection.setRegion((t0_s, t1_s))
        self._selection.show()
