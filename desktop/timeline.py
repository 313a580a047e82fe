"""The emotion timeline: one label-coloured span per analysed window, score lines, markers, "now".

Every result is drawn at its window's span ``[t0, t1]`` on the session clock, never at the time it
arrived. Plot items are created once; new data only marks the view dirty and ``refresh`` (called by
the display timer) feeds the items with ``setOpts``/``setData``. Dragging or zooming pauses
"follow now"; ``set_follow(True)`` (key F) resumes it.
"""

from __future__ import annotations

import bisect
import html
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core import labels as core_labels
from core.lanes import LanePacker as _CoreLanePacker
from core.lanes import assign_lanes as _core_assign_lanes
from core.results import WindowResult
from desktop import i18n, theme
from desktop.timeline_axis import ClockAxis

DEFAULT_VISIBLE_S = 60.0  # seconds of history on screen while following
MIN_VISIBLE_S = 20.0  # the shortest span shown at the start of a session
NOW_MARGIN_S = 1.0  # room right of "now"
MAX_LANES = 3  # overlapping windows (hop < window) stack on up to this many rows
LANE_HEIGHT = 0.9  # fraction of a row a span fills
SPAN_CHUNK = 200  # spans per plot item; only the newest item is redrawn when a result arrives (long sessions)
MIN_LABEL_WIDTH_PX = 46  # narrower spans go without a text label
MARKER_COLOURS = {"event": "#f0f0f0", "exclude": "#ff6b6b"}


@dataclass(frozen=True)
class Marker:
    kind: str  # "event" | "exclude" | any user kind
    t: float  # session seconds
    text: str = ""


class LanePacker(_CoreLanePacker):
    """``core.lanes.LanePacker`` with the timeline's row limit (``MAX_LANES``)."""

    def __init__(self, max_lanes: int = MAX_LANES) -> None:
        super().__init__(max_lanes)


def assign_lanes(spans: list[tuple[float, float]], max_lanes: int = MAX_LANES) -> list[int]:
    """Rows for spans sorted by ``t0`` (see ``core.lanes``), at most ``max_lanes`` of them."""
    return _core_assign_lanes(spans, max_lanes)


class SpanLabels(pg.GraphicsObject):
    """The label names written inside the spans, all drawn by one item in one ``paint``.

    Text is drawn in device pixels (it does not stretch with zoom); a span narrower than its text goes
    without one. One item instead of a text item per span keeps scrolling cheap in long sessions."""

    def __init__(self) -> None:
        super().__init__()
        self._geometry: list[tuple[WindowResult, float, float]] = []
        self._bounds = QRectF()

    def set_spans(self, geometry: list[tuple[WindowResult, float, float]]) -> None:
        self.prepareGeometryChange()
        self._geometry = geometry
        if geometry:
            t0 = min(g[0].t0 for g in geometry[:1])
            t1 = max(g[0].t1 for g in geometry[-SPAN_CHUNK:])
            self._bounds = QRectF(t0, 0.0, max(t1 - t0, 1e-3), 1.0)
        else:
            self._bounds = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._geometry:
            return
        xform = painter.transform()
        view = self.getViewBox()
        if view is None:
            return
        (xa, xb), _ = view.viewRange()
        painter.save()
        painter.resetTransform()
        metrics = painter.fontMetrics()
        first = bisect.bisect_left([g[0].t1 for g in self._geometry], xa)  # t1 is ordered with t0 here
        for r, y0, y1 in self._geometry[max(0, first - MAX_LANES) :]:
            if r.t0 > xb:
                break
            left, right = xform.map(QPointF(r.t0, y0)), xform.map(QPointF(r.t1, y1))
            name = i18n.label_name(r.analysis.label) or "?"
            width = abs(right.x() - left.x())
            if width < max(MIN_LABEL_WIDTH_PX, metrics.horizontalAdvance(name) + 6):
                continue
            colour = QColor(core_labels.colour(r.analysis.label))
            painter.setPen(QColor("#000000" if colour.lightnessF() > 0.55 else "#ffffff"))
            box = QRectF(min(left.x(), right.x()), min(left.y(), right.y()), width, abs(right.y() - left.y()))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, name)
        painter.restore()


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
            chip = QLabel(  # free labels come from model or bundle text: escaped, never markup
                f"<span style='color:{core_labels.colour(name)}; font-size:13pt'>■</span> "
                f"{html.escape(i18n.label_name(name))}"
            )
            chip.setTextFormat(Qt.TextFormat.RichText)
            chip.setStyleSheet(f"color: {t.text};")
            self._layout.addWidget(chip)
        self._layout.addStretch(1)


MARKER_KINDS = {"event": QT_TRANSLATE_NOOP("EmotionTimeline", "event"),
                "exclude": QT_TRANSLATE_NOOP("EmotionTimeline", "exclude")}


def marker_text(marker: Marker) -> str:
    """"event: door" in the window's language (the kind is translated, the user's note is kept)."""
    kind = QCoreApplication.translate("EmotionTimeline", MARKER_KINDS.get(marker.kind, marker.kind))
    return kind if not marker.text else f"{kind}: {marker.text}"


def _pending_brush(t: theme.Theme) -> QBrush:
    """A faint veil over the window being analysed, in the theme's text colour (light on dark, dark on light)."""
    colour = QColor(t.text)
    colour.setAlpha(28)
    return pg.mkBrush(colour)


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
        self._packer = LanePacker()
        self._rebuild_needed = False

        self.legend = LabelLegend()
        self._follow_button = QPushButton(self.tr("Follow now (F)"))
        self._follow_button.setToolTip(self.tr("Dragging or zooming the timeline pauses following; this resumes it"))
        self._follow_button.clicked.connect(lambda: self.set_follow(True))
        self._follow_button.setVisible(False)
        self._hint = QLabel(self.tr("drag to scroll · wheel to zoom · click a span for its evidence"))
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
        self.lane_plot.setLabel("left", self.tr("label"))
        self.score_plot.setYRange(0, 1, padding=0.04)
        self.score_plot.setLabel("left", self.tr("score"))
        self.score_plot.getAxis("left").setTicks([[(0, "0"), (0.5, ".5"), (1, "1")]])
        self.score_plot.setToolTip(
            self.tr("The model's own preference over the label set (not a calibrated probability)")
        )

        self._span_pen = pg.mkPen(t.panel, width=1)
        self._span_items: list[pg.BarGraphItem] = []  # chunks of SPAN_CHUNK spans; the last one grows
        self._brushes: dict[str, QBrush] = {}  # one brush per colour, shared by all spans
        self._pending = pg.LinearRegionItem(
            movable=False,
            brush=_pending_brush(t),
            pen=pg.mkPen(t.muted, style=Qt.PenStyle.DashLine),
        )
        self._pending.hide()
        self.lane_plot.addItem(self._pending)
        self._pending_text = pg.TextItem(self.tr("analysing…"), color=t.muted, anchor=(0.5, 0.5))
        self._pending_text.hide()
        self.lane_plot.addItem(self._pending_text)
        self._selection = pg.BarGraphItem(
            x0=[0], x1=[0], y0=[0], y1=[1], brush=pg.mkBrush(0, 0, 0, 0), pen=pg.mkPen(t.text, width=2.5)
        )
        self._selection.hide()
        self.lane_plot.addItem(self._selection)
        self._span_labels = SpanLabels()
        self.lane_plot.addItem(self._span_labels)
        self._now_lines = [pg.InfiniteLine(angle=90, pen=pg.mkPen(t.accent, width=1.5)) for _ in range(2)]
        self.lane_plot.addItem(self._now_lines[0])
        self.score_plot.addItem(self._now_lines[1])
        self._marker_lines: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
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

    def apply_theme(self, t: theme.Theme) -> None:
        """Re-colour the items drawn with theme pens (``theme.recolour`` does style sheets and plots)."""
        self._span_pen = pg.mkPen(t.panel, width=1)
        for item in self._span_items:
            item.setOpts(pen=self._span_pen)
        self._pending.setBrush(_pending_brush(t))
        self._pending.lines[0].setPen(pg.mkPen(t.muted, style=Qt.PenStyle.DashLine))
        self._pending.lines[1].setPen(pg.mkPen(t.muted, style=Qt.PenStyle.DashLine))
        self._pending_text.setColor(t.muted)
        self._selection.setOpts(pen=pg.mkPen(t.text, width=2.5))
        for line in self._now_lines:
            line.setPen(pg.mkPen(t.accent, width=1.5))
        self._no_scores.setColor(t.muted)
        self._dirty = True

    # -- inputs -----------------------------------------------------------------------------------------

    def set_label_set(self, labels: tuple[str, ...] | None) -> None:
        """Labels whose scores get a line (``None`` = free labels: spans only, no score lines)."""
        self._label_set = labels
        for curve in self._score_curves.values():
            self.score_plot.removeItem(curve)
        self._score_curves = {}
        for name in labels or ():
            # lines without symbols: scatter symbols are rebuilt on every scroll step (~0.6 ms each)
            curve = self.score_plot.plot([], [], pen=pg.mkPen(core_labels.colour(name), width=2), name=name)
            curve.setClipToView(True)  # long sessions: only the visible points are drawn
            self._score_curves[name] = curve
        self._reset_scores()
        self.legend.set_labels(
            labels or tuple(sorted({r.analysis.label for r in self._results.values() if r.analysis.label}))
        )
        self._dirty = True

    def add_result(self, result: WindowResult) -> None:
        if result.window_id in self._results:
            self._rebuild_needed = True  # a window analysed again replaces its span
        self._results[result.window_id] = result
        if self._pending_id == result.window_id:
            self.set_pending(None)
        if (
            self._label_set is None
            and result.analysis.label
            and result.analysis.label not in self.legend.labels
        ):
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
        pen = pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine)
        # the line crosses both plots; its name sits in the score plot, clear of the span labels
        lane_line = pg.InfiniteLine(pos=marker.t, angle=90, pen=pen)
        score_line = pg.InfiniteLine(
            pos=marker.t,
            angle=90,
            pen=pen,
            label=marker_text(marker),
            labelOpts={"position": 0.93, "color": colour, "anchors": [(0, 0), (0, 0)]},
        )
        self.lane_plot.addItem(lane_line)
        self.score_plot.addItem(score_line)
        self._markers.append(marker)
        self._marker_lines += [(self.lane_plot, lane_line), (self.score_plot, score_line)]

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
        self._rebuild_needed = True
        for plot, line in self._marker_lines:
            plot.removeItem(line)
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
        return sum(len(item.opts.get("x0", [])) for item in self._span_items) if self._results else 0

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
        """Push changed data into the plot items (display timer; cheap when nothing changed).

        Results arriving in time order are appended to the newest chunk item (cost independent of session
        length); anything else (a result out of order, a replaced window, one more row) redraws everything."""
        if not self._dirty:
            return
        self._dirty = False
        drawn_ids = {g[0].window_id for g in self._span_geometry}
        fresh = sorted(
            (r for wid, r in self._results.items() if wid not in drawn_ids), key=lambda r: (r.t0, r.window_id)
        )
        last_t0 = self._span_geometry[-1][0].t0 if self._span_geometry else -np.inf
        if self._rebuild_needed or (fresh and fresh[0].t0 < last_t0) or not self._append(fresh):
            self._rebuild()
        self._rebuild_needed = False
        if self._selected is not None:
            self.select(self._selected)
        self._update_scores()
        self._span_labels.set_spans(self._span_geometry)

    def _row_bounds(self, lane: int) -> tuple[float, float]:
        row_h = 1.0 / self._packer.n_lanes
        y0 = 1.0 - (lane + 1) * row_h + row_h * (1 - LANE_HEIGHT) / 2
        return y0, y0 + row_h * LANE_HEIGHT

    def _append(self, fresh: list[WindowResult]) -> bool:
        """Add spans after the last drawn one; False when the number of rows would change (rebuild)."""
        n_before = self._packer.n_lanes if self._span_geometry else None
        lanes = [self._packer.add(r.t0, r.t1) for r in fresh]
        if n_before is not None and self._packer.n_lanes != n_before:
            return False
        for r, lane in zip(fresh, lanes):
            self._span_geometry.append((r, *self._row_bounds(lane)))
        first_dirty_chunk = (len(self._span_geometry) - len(fresh)) // SPAN_CHUNK
        self._draw_chunks(first_dirty_chunk)
        return True

    def _rebuild(self) -> None:
        self._reset_scores()
        self._packer = LanePacker()
        self._span_geometry = []
        for item in self._span_items:
            self.lane_plot.removeItem(item)
        self._span_items = []
        ordered = sorted(self._results.values(), key=lambda r: (r.t0, r.window_id))
        lanes = [self._packer.add(r.t0, r.t1) for r in ordered]
        self._span_geometry = [(r, *self._row_bounds(lane)) for r, lane in zip(ordered, lanes)]
        self._draw_chunks(0)

    def _draw_chunks(self, first: int) -> None:
        """(Re)draw span chunks from index ``first`` on, creating plot items as needed."""
        n_chunks = (len(self._span_geometry) + SPAN_CHUNK - 1) // SPAN_CHUNK
        while len(self._span_items) < n_chunks:
            item = pg.BarGraphItem(
                x0=[0.0], x1=[0.0], y0=[0.0], y1=[0.0], brushes=[self._brush(None)], pen=self._span_pen
            )
            item.setZValue(-1)  # under the selection outline, labels and markers
            self.lane_plot.addItem(item)
            self._span_items.append(item)
        for k in range(first, n_chunks):
            part = self._span_geometry[k * SPAN_CHUNK : (k + 1) * SPAN_CHUNK]
            self._span_items[k].setOpts(
                x0=np.array([g[0].t0 for g in part]),
                x1=np.array([g[0].t1 for g in part]),
                y0=np.array([g[1] for g in part]),
                y1=np.array([g[2] for g in part]),
                brushes=[self._brush(g[0].analysis.label) for g in part],
            )

    def _brush(self, label: str | None) -> QBrush:
        colour = core_labels.colour(label)
        if colour not in self._brushes:
            self._brushes[colour] = pg.mkBrush(colour)
        return self._brushes[colour]

    def _update_scores(self) -> None:
        """Score points at window centres, for windows with scores (kept in step with ``_span_geometry``)."""
        done = self._scores_upto
        for r, _a, _b in self._span_geometry[done:]:
            if r.analysis.scores:
                self._score_x.append((r.t0 + r.t1) / 2)
                for name, values in self._score_y.items():
                    values.append(float(r.analysis.scores.get(name, np.nan)))
        self._scores_upto = len(self._span_geometry)
        if self._label_set is None:
            self._no_scores.setText(self.tr("free labels: no score lines"))
        elif not self._score_x:
            self._no_scores.setText(self.tr("score lines appear when the model reports per-label scores"))
        else:
            self._no_scores.setText("")
        (xa, _), _ = self.score_plot.getViewBox().viewRange()
        self._no_scores.setPos(xa, 1.0)
        x = np.asarray(self._score_x, np.float64)
        for name, curve in self._score_curves.items():
            curve.setData(x, np.asarray(self._score_y[name], np.float64), connect="finite")

    def _reset_scores(self) -> None:
        self._scores_upto = 0
        self._score_x: list[float] = []
        self._score_y: dict[str, list[float]] = {name: [] for name in self._score_curves}

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
        if event.button() != Qt.MouseButton.LeftButton or not vb.sceneBoundingRect().contains(
            event.scenePos()
        ):
            return
        p = vb.mapSceneToView(event.scenePos())
        for r, a, b in reversed(self._span_geometry):
            if r.t0 <= p.x() <= r.t1 and a <= p.y() <= b:
                self.window_selected.emit(r.window_id)
                return
        hit = self.window_at(p.x())
        if hit is not None:
            self.window_selected.emit(hit)
