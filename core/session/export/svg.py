"""Inline SVG charts of the HTML report: the emotion timeline, label scores, label distribution.

All text is escaped (``html.escape`` after ``escaping.clean_text``); colours come from ``core.labels``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from core import labels as _labels
from core.clock_text import clock
from core.clock_text import span as clock_span  # timeline() has a local named span
from core.lanes import assign_lanes
from core.session.export.common import MARKER_COLOURS
from core.session.export.escaping import clean_text
from core.session.records import LoggedMarker, LoggedWindow


def esc(text: str) -> str:
    return html.escape(clean_text(text))


def _open_svg(width: int, height: int, label: str) -> list[str]:
    return [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
        ),
    ]


def timeline(
    windows: Sequence[LoggedWindow], markers: Sequence[LoggedMarker], t0: float, t1: float, width: int = 1000,
    shown: Callable[[str], str] = str,
) -> str:
    """Spans on lanes; ``shown`` names a label for people (data attributes keep the id)."""
    lane_of = assign_lanes([(w.t0, w.t1) for w in windows])
    n = max(lane_of, default=0) + 1
    lane_h, top, left = 22, 8, 8
    plot_w = width - 2 * left
    span = max(t1 - t0, 1e-6)
    def x(t: float) -> float:
        return left + (t - t0) / span * plot_w

    height = top + n * lane_h + 28
    parts = _open_svg(width, height, "emotion timeline")
    parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#1d2026"/>')
    for w, lane in zip(windows, lane_of):
        y = top + lane * lane_h
        title = esc(f"{clock_span(w.t0, w.t1)} {shown(w.label) if w.label else w.analysis.parse_status}")
        parts.append(
            f'<rect class="win" data-label="{esc(w.label or "")}" x="{x(w.t0):.1f}" y="{y}" '
            f'width="{max(1.0, x(w.t1) - x(w.t0) - 1):.1f}" height="{lane_h - 4}" '
            f'fill="{_labels.colour(w.label)}"><title>{title}</title></rect>'
        )
    axis_y = top + n * lane_h + 4
    for m in markers:
        parts.append(
            f'<line x1="{x(m.t):.1f}" x2="{x(m.t):.1f}" y1="{top - 4}" y2="{axis_y}" '
            f'stroke="{MARKER_COLOURS.get(m.kind, "#ffffff")}" stroke-dasharray="3,2">'
            f"<title>{esc(m.kind + ' ' + m.text)}</title></line>"
        )
    ticks = 8
    for i in range(ticks + 1):
        t = t0 + span * i / ticks
        anchor = "start" if i == 0 else "end" if i == ticks else "middle"
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{axis_y}" y2="{axis_y + 4}" stroke="#888"/>'
            f'<text x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="{anchor}">{clock(t)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def scores(windows: Sequence[LoggedWindow], names: Sequence[str], t0: float, t1: float, width: int = 1000,
           shown: Callable[[str], str] = str) -> str:
    """One polyline per label: the model's score at each window's centre (clamped to 0..1), with a legend."""
    left, top, plot_h = 8, 8, 90
    plot_w, span = width - 2 * left, max(t1 - t0, 1e-6)
    height = top + plot_h + 26
    def x(t: float) -> float:
        return left + (t - t0) / span * plot_w

    def y(v: float) -> float:
        return top + (1 - min(1.0, max(0.0, v))) * plot_h

    parts = _open_svg(width, height, "label scores")
    parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#1d2026"/>')
    lx = left
    for name in names:
        pts = [
            (x((w.t0 + w.t1) / 2), y(score))
            for w in windows
            if (score := (w.analysis.scores or {}).get(name)) is not None
        ]
        if not pts:
            continue
        col = _labels.colour(name)
        parts.append(
            f'<polyline class="score" data-label="{esc(name)}" fill="none" stroke="{col}" '
            f'stroke-width="1.5" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>'
        )
        parts.append(
            f'<rect x="{lx}" y="{top + plot_h + 10}" width="10" height="10" fill="{col}"/>'
            f'<text x="{lx + 14}" y="{top + plot_h + 19}">{esc(shown(name))}</text>'
        )
        lx += 24 + 7 * len(shown(name)) * (1 if shown(name).isascii() else 2)  # CJK glyphs are twice as wide
    parts.append("</svg>")
    return "".join(parts)


def distribution(counts: Sequence[tuple[str, int]], width: int = 480, shown: Callable[[str], str] = str) -> str:
    bar_h, label_w = 20, 110
    total = sum(c for _, c in counts) or 1
    height = bar_h * max(1, len(counts)) + 8
    parts = _open_svg(width, height, "label distribution")
    for i, (label, c) in enumerate(counts):
        y = 4 + i * bar_h
        w = (width - label_w - 80) * c / total
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{esc(shown(label))}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 6}" '
            f'fill="{_labels.colour(label if label in _labels.LABEL_COLOURS else None)}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{c} ({100 * c / total:.0f}%)</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
