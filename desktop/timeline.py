"""The emotion timeline: one label-coloured span per analysed window, score lines, markers, "now".

Every result is drawn at its window's span ``[t0, t1]`` on the session clock, never at the time it
arrived. Plot items are created once; new data only marks the view dirty and ``refresh`` (called by
the display timer) feeds the items with ``setOpts``/``setData``. Dragging or zooming pauses
"follow now"; ``set_follow(True)`` (key F) resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core import labels as core_labels
from core.results import WindowResult
from desktop import theme
from desktop.timeline_axis import ClockAxis

DEFAULT_VISIBLE_S = 60.0  # seconds of history on screen while following
MIN_VISIBLE_S = 20.0  # the shortest span shown at the start of a session
NOW_MARGIN_S = 1.0  # room right of "now"
MAX_LANES = 3  # overlapping windows (hop < window) stack on up to this many rows
LANE_HEIGHT = 0.9  # fraction of a row a span fills
SPAN_LABEL_POOL = 60  # text items reused for the newest spans
MIN_LABEL_WIDTH_PX = 46  # narrower spans go without a text label
MARKER_COLOURS = {"event": "#f0f0f0", "exclude": "#ff6b6b"}


@dataclass(frozen=True)
class Marker:
    kind: str  # "event" | "exclude" | any user kind
    t: float  # session seconds
    text: str = ""


def assign_lanes(spans: list[tuple[float, float]], max_lanes: int = MAX_LANES) -> list[int]:
    """Greedy interval packing: the first row whose last span ends by ``t0``; spans sorted by ``t0``."""
    ends: list[float] = []
    lanes = []
    for t0, t1 in spans:
        for i, end in enumerate(ends):
            if end <= t0 + 1e-6:
                ends[i] = t1
                lanes.append(i)
                break
        else:
            if len(ends) < max_lanes:
                ends.append(t1)
                lanes.append(len(ends) - 1)
            else:
                i = int(np.argmin(ends))
                ends[i] = t1
                lanes.append(i)
    return lanes


class LabelLegend(QWidget):
    """A row of colour chips, one per label of the current set (free sets show the labels seen)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 0, 4, 0)
        self._layout.setSpacing(10)
        self.labels: tuple[str, ...] = ()

    def set_labels(self, labels: tuple[str, ...]) -> None:
        if labels == self.labels:
            return
        self.labels = labels
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        t = theme.current()
        for name in labels:
            chip = QLabel(f"<span style='color:{core_labels.colour(name)}; font-size:13pt'>■</span> {name}")
            chip.setStyleSheet(f"color: {t.text};")
            self._layout.addWidget(chip)
        self._layout.addStretch(1)


class EmotionTimeline(QWidget):
    """Spans lane + per-label score lines sharing one session-time x axis. UI thread only."""

    window_selected = Signal(int)
    follow_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        t = theme.current()
        self._results: dict[int, WindowResult] = {}
        self._markers: list[Marker] = []
        self._label_set: tuple[str, ...] | None = core_labels.DFEW
        self._now = 0.0
        self._follow = True
        self._visible_s = DEFAULT_VISIBLE_S
        self._dirty = True
        self._selected: int | None = None
        self._pending_id: int | None = None  # the window being analysed
        self._span_geometry: list[tuple[WindowResult, float, float]] = []  # (result, y0, y1), by t0
        self._last_text_key: tuple = ()  # view range the span labels were placed for

        self.legend = LabelLegend()
        self._follow_button = QPushButton("Follow now (F)")
        self._follow_button.setToolTip("Dragging or zooming the timeline pauses following; this resumes it")
        self._follow_button.clicked.connect(lambda: self.set_follow(True))
        self._follow_button.setVisible(False)
        self._hint = QLabel("drag to scroll · wheel to zoom · click a span for its evidence")
        self._hint.setStyleSheet(f"color: {t.muted};")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.legend, 1)
        top.addWidget(self._hint)
        top.addWidget(self._follow_button)

        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.ci.layout.setSpacing(0)
        self.lane_plot = self._graphics.addPlot(row=0, col=0)
        self.score_plot = self._graphics.addPlot(row=1, col=0, axisItems={"bottom": ClockAxis("bottom")})
        self._graphics.ci.layout.setRowStretchFactor(0, 2)
        self._graphics.ci.layout.setRowStretchFactor(1, 3)
        for plot in (self.lane_plot, self.score_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(48)
            plot.setMouseEnabled(x=True, y=False)
            plot.showGrid(x=True, y=False, alpha=0.15)
        self.score_plot.setXLink(self.lane_plot)
        self.lane_plot.hideAxis("bottom")
        self.lane_plot.setYRange(0, 1, padding=0.05)
        self.lane_plot.getAxis("left").setTicks([[]])
        self.lane_plot.setLabel("left", "label")
        self.score_plot.setYRange(0, 1, padding=0.04)
        self.score_plot.setLabel("left", "score")
        self.score_plot.getAxis("left").setTicks([[(0, "0"), (0.5, ".5"), (1, "1")]])
        self.score_plot.setToolTip("The model's own preference over the label set (not a calibrated probability)")

        self._spans = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[], brushes=[], pen=pg.mkPen(t.panel, width=1))
        self.lane_plot.addItem(self._spans)
        self._pending = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 255, 255, 28),
                                            pen=pg.mkPen(t.muted, style=Qt.PenStyle.DashLine))
        self._pending.hide()
        self.lane_plot.addItem(self._pending)
        self._pending_text = pg.TextItem("analysing…", color=t.muted, anchor=(0.5, 0.5))
        self._pending_text.hide()
        self.lane_plot.addItem(self._pending_text)
        self._selection = pg.BarGraphItem(x0=[0], x1=[0], y0=[0], y1=[1], brush=pg.mkBrush(0, 0, 0, 0),
                                          pen=pg.mkPen(t.text, width=2.5))
        self._selection.hide()
        self.lane_plot.addItem(self._selection)
        self._span_texts = []
        for _ in range(SPAN_LABEL_POOL):
            item = pg.TextItem("", color="#000000", anchor=(0.5, 0.5))
            item.hide()
            self.lane_plot.addItem(item)
            self._span_texts.append(item)
        self._now_lines = [pg.InfiniteLine(angle=90, pen=pg.mkPen(t.accent, width=1.5)) for _ in range(2)]
        self.lane_plot.addItem(self._now_lines[0])
        self.score_plot.addItem(self._now_lines[1])
        self._marker_lines: list[pg.InfiniteLine] = []
        self._score_curves: dict[str, pg.PlotDataItem] = {}
        self._no_scores = pg.TextItem("", color=t.muted, anchor=(0, 0))
        self.score_plot.addItem(self._no_scores, ignoreBounds=True)
        self.set_label_set(self._label_set)

        self.lane_plot.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        self.score_plot.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        self._graphics.scene().sigMouseClicked.connect(self._on_click)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self._graphics, 1)
        self._apply_range()

    # -- inputs -----------------------------------------------------------------------------------------
    def set_label_set(self, labels: tuple[str, ...] | None) -> None:
        """Labels whose scores get a line (``None`` = free labels: spans only, no score lines)."""
        self._label_set = labels
        for curve in self._score_curves.values():
            self.score_plot.removeItem(curve)
        self._score_curves = {}
        for name in labels or ():
            curve = self.score_plot.plot([], [], pen=pg.mkPen(core_labels.colour(name), width=2),
                                         symbol="o", symbolSize=5, symbolBrush=core_labels.colour(name),
                                         symbolPen=None, name=name)
            self._score_curves[name] = curve
        self.legend.set_labels(labels or tuple(sorted({r.analysis.label for r in self._results.values()
                                                       if r.analysis.label})))
        self._dirty = True

    def add_result(self, result: WindowResult) -> None:
        self._results[result.window_id] = result
        if self._pending_id == result.window_id:
            self.set_pending(None)
        if self._label_set is None and result.analysis.label and result.analysis.label not in self.legend.labels:
            self.legend.set_labels(tuple(sorted({*self.legend.labels, result.analysis.label})))
        self._dirty = True

    def set_pending(self, window: tuple[int, float, float] | None) -> None:
        """The window being analysed now, ``(id, t0, t1)``, drawn as a dashed "analysing…" region."""
        if window is None:
            self._pending_id = None
            self._pending.hide()
            self._pending_text.hide()
            return
        self._pending_id, t0, t1 = window
        self._pending.setRegion((t0, t1))
        self._pending_text.setPos((t0 + t1) / 2, 0.5)
        self._pending.show()
        self._pending_text.show()

    def add_marker(self, marker: Marker) -> None:
        t = theme.current()
        colour = MARKER_COLOURS.get(marker.kind, t.accent)
        line = pg.InfiniteLine(pos=marker.t, angle=90, pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                               label=marker.kind if not marker.text else f"{marker.kind}: {marker.text}",
                               labelOpts={"position": 0.9, "color": colour, "anchors": [(0, 0), (0, 0)]})
        self.lane_plot.addItem(line)
        self._markers.append(marker)
        self._marker_lines.append(line)

    def set_now(self, t_s: float) -> None:
        self._now = t_s
        for line in self._now_lines:
            line.setValue(t_s)
        if self._follow:
            self._apply_range()

    def set_follow(self, on: bool) -> None:
        if on == self._follow:
            return
        self._follow = on
        self._follow_button.setVisible(not on)
        if on:
            self._apply_range()
        self.follow_changed.emit(on)

    @property
    def following(self) -> bool:
        return self._follow

    def select(self, window_id: int | None) -> None:
        """Outline the span of ``window_id`` (``None`` clears the selection)."""
        self._selected = window_id
        r = self._results.get(window_id) if window_id is not None else None
        if r is None:
            self._selection.hide()
            return
        rows = {g[0].window_id: (g[1], g[2]) for g in self._span_geometry}
        y0, y1 = rows.get(window_id, (0.0, 1.0))  # the span's own row once drawn
        self._selection.setOpts(x0=[r.t0], x1=[r.t1], y0=[y0], y1=[y1])
        self._selection.show()

    def clear(self) -> None:
        """Forget every span and marker (a new session)."""
        self._results.clear()
        for line in self._marker_lines:
            self.lane_plot.removeItem(line)
        self._marker_lines.clear()
        self._markers.clear()
        self.select(None)
        self.set_pending(None)
        self._dirty = True

    # -- queries (tests, evidence) -----------------------------------------------------------------------
    @property
    def results(self) -> dict[int, WindowResult]:
        return dict(self._results)

    @property
    def markers(self) -> list[Marker]:
        return list(self._markers)

    def span_count(self) -> int:
        return len(self._spans.opts.get("x0", []))

    def window_at(self, t_s: float) -> int | None:
        """The newest window whose span contains session time ``t_s``."""
        hits = [r for r in self._results.values() if r.t0 <= t_s <= r.t1]
        return max(hits, key=lambda r: r.window_id).window_id if hits else None

    def scene_pos_of(self, t_s: float, y: float = 0.5) -> QPointF:
        """Scene position of (session time, lane y); for tests that click on a span."""
        return self.lane_plot.getViewBox().mapViewToScene(QPointF(t_s, y))

    @property
    def graphics(self) -> pg.GraphicsLayoutWidget:
        return self._graphics

    # -- drawing ----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Push changed data into the plot items (display timer, ~30 Hz; cheap when nothing changed)."""
        if not self._dirty:
            self._place_span_texts()
            return
        self._dirty = False
        ordered = sorted(self._results.values(), key=lambda r: (r.t0, r.window_id))
        lanes = assign_lanes([(r.t0, r.t1) for r in ordered])
        n_lanes = max(lanes, default=0) + 1
        row_h = 1.0 / n_lanes
        x0 = np.array([r.t0 for r in ordered], np.float64)
        x1 = np.array([r.t1 for r in ordered], np.float64)
        y0 = np.array([1.0 - (lane + 1) * row_h + row_h * (1 - LANE_HEIGHT) / 2 for lane in lanes], np.float64)
        y1 = y0 + row_h * LANE_HEIGHT
        brushes = [pg.mkBrush(core_labels.colour(r.analysis.label)) for r in ordered]
        self._spans.setOpts(x0=x0, x1=x1, y0=y0, y1=y1, brushes=brushes)
        self._span_geometry = list(zip(ordered, y0, y1))
        if self._selected is not None:
            for r, a, b in self._span_geometry:
                if r.window_id == self._selected:
                    self._selection.setOpts(x0=[r.t0], x1=[r.t1], y0=[a], y1=[b])
        self._update_scores(ordered)
        self._place_span_texts(force=True)

    def _place_span_texts(self, force: bool = False) -> None:
        vb = self.lane_plot.getViewBox()
        (xa, xb), _ = vb.viewRange()
        px_per_s = vb.width() / max(xb - xa, 1e-9)
        key = (round(xa, 2), round(xb, 2), len(self._span_geometry))
        if key == self._last_text_key and not force:
            return
        self._last_text_key = key
        newest = self._span_geometry[-SPAN_LABEL_POOL:]
        for item, geom in zip(self._span_texts, newest + [None] * (SPAN_LABEL_POOL - len(newest))):
            if geom is None:
                item.hide()
                continue
            r, a, b = geom
            if (r.t1 - r.t0) * px_per_s < MIN_LABEL_WIDTH_PX or r.t1 < xa or r.t0 > xb:
                item.hide()
                continue
            name = r.analysis.label or "?"
            if item.toPlainText() != name:  # setText re-lays out rich text: only when it changes
                colour = QColor(core_labels.colour(r.analysis.label))
                item.setColor("#000000" if colour.lightnessF() > 0.55 else "#ffffff")
                item.setText(name)
            item.setPos((r.t0 + r.t1) / 2, (a + b) / 2)
            item.show()

    def _update_scores(self, ordered: list[WindowResult]) -> None:
        with_scores = [r for r in ordered if r.analysis.scores]
        if self._label_set is None:
            self._no_scores.setText("free labels: no score lines")
        elif not with_scores:
            self._no_scores.setText("score lines appear when the model reports per-label scores")
        else:
            self._no_scores.setText("")
        (xa, _), _ = self.score_plot.getViewBox().viewRange()
        self._no_scores.setPos(xa, 1.0)
        centres = np.array([(r.t0 + r.t1) / 2 for r in with_scores], np.float64)
        for name, curve in self._score_curves.items():
            values = np.array([float(r.analysis.scores.get(name, np.nan)) for r in with_scores], np.float64)
            curve.setData(centres, values, connect="finite")

    def _apply_range(self) -> None:
        # "now" sits at the right edge; early in a session the view grows from MIN_VISIBLE_S to the full span
        right = self._now + NOW_MARGIN_S
        left = max(0.0, right - self._visible_s)
        self.lane_plot.setXRange(left, max(right, left + MIN_VISIBLE_S), padding=0)
        (xa, _), _ = self.score_plot.getViewBox().viewRange()
        self._no_scores.setPos(xa, 1.0)

    def _on_manual_range(self, *_args) -> None:
        (xa, xb), _ = self.lane_plot.getViewBox().viewRange()
        self._visible_s = max(xb - xa, 2.0)
        self.set_follow(False)

    def _on_click(self, event) -> None:
        vb = self.lane_plot.getViewBox()
        if event.button() != Qt.MouseButton.LeftButton or not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        for r, a, b in reversed(self._span_geometry):
            if r.t0 <= p.x() <= r.t1 and a <= p.y() <= b:
                self.window_selected.emit(r.window_id)
                return
        hit = self.window_at(p.x())
        if hit is not None:
            self.window_selected.emit(hit)
