"""Exports of a session: pure functions from a ``SessionReader`` to text (CSV, JSON, ELAN, WebVTT, HTML).

Times: CSV and JSON keep session seconds. ELAN and WebVTT are laid over the recorded media, so
their times are milliseconds from ``media_origin`` (the start of the recording; 0 without media);
the offset is written into each file. Colours come from ``core.labels.colour``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
import os
import re
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable
from xml.etree import ElementTree as ET

from core import labels as _labels
from core.faces import FaceCheck, status_of
from core.session import events as ev
from core.session import layout
from core.session.media import media_origin as recorded_media_origin
from core.session.reader import SessionReader

FORMATS = ("csv", "json", "eaf", "vtt", "html")
MARKER_SPAN_S = 0.2  # ELAN/VTT need a duration: markers are drawn as 200 ms spans
MARKER_COLOURS = {"event": "#ffffff", "exclude": "#ff6b6b", "custom": "#4aa3ff"}  # as on the live timeline
CSV_FIELDS = (
    "window_id",
    "t0",
    "t1",
    "wall_t0",
    "wall_t1",
    "finished_at",
    "latency_s",
    "label",
    "answer",
    "parse_status",
    "audio_status",
    "face_status",  # none | one | several (frontal faces in the frames the model saw); empty: not checked
    "faces_max",
    "modal",
    "label_set",
    "think",
    "text",
)


# ---------------------------------------------------------------- helpers
def media_origin(reader: SessionReader) -> float:
    """Session time (s) at which the recorded media (and ``recording.mp4``) start; 0.0 without media."""
    return recorded_media_origin(reader.path)


def score_labels(windows: Iterable[dict[str, Any]], label_set: tuple[str, ...] | None) -> list[str]:
    """Score columns: the session's label set, plus any other label that has a score."""
    names = list(label_set or ())
    for w in windows:
        for k in w.get("scores") or {}:
            if k not in names:
                names.append(k)
    return names


def timing_names(windows: Iterable[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for w in windows:
        for k in w.get("timings") or {}:
            if k not in names:
                names.append(k)
    return names


def lanes(spans: list[tuple[float, float]]) -> list[int]:
    """Greedy lane per span (spans sorted by start) so that no two spans in a lane overlap."""
    ends: list[float] = []
    out = []
    for t0, t1 in spans:
        for i, e in enumerate(ends):
            if e <= t0 + 1e-9:
                ends[i] = t1
                out.append(i)
                break
        else:
            ends.append(t1)
            out.append(len(ends) - 1)
    return out


def fmt_clock(t: float) -> str:
    """mm:ss.s on the session clock (h:mm:ss.s past an hour)."""
    sign = "-" if t < 0 else ""
    t = abs(t)
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{int(h)}:{int(m):02d}:{s:04.1f}" if h >= 1 else f"{sign}{int(m):02d}:{s:04.1f}"


def _faces_note(faces: list[int] | None) -> str:
    note = FaceCheck(tuple(faces)).short_warning() if faces is not None else None
    return f" · {note}" if note else ""


# ---------------------------------------------------------------- CSV / JSON
def to_csv(reader: SessionReader) -> str:
    """One row per analysed window; ``score_<label>`` and ``timing_<stage>`` columns; empty = none."""
    windows = reader.windows
    scores = score_labels(windows, reader.labels)
    timings = timing_names(windows)
    header = [*CSV_FIELDS, *(f"score_{s}" for s in scores), *(f"timing_{s}" for s in timings)]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(header)
    for w in windows:
        faces = w.get("faces")
        row = {**w, "latency_s": w["finished_at"] - w["t1"], "face_status": status_of(faces),
               "faces_max": max(faces, default=0) if faces is not None else None}
        values = ["" if row.get(k) is None else row.get(k) for k in CSV_FIELDS]
        values += ["" if (w.get("scores") or {}).get(s) is None else w["scores"][s] for s in scores]
        values += ["" if (w.get("timings") or {}).get(s) is None else w["timings"][s] for s in timings]
        out.writerow([repr(v) if isinstance(v, float) else v for v in values])
    return buf.getvalue()


def to_json(reader: SessionReader) -> str:
    """The manifest, windows, markers and every other event, as one JSON document."""
    others = [e for e in reader.events if e.get("type") not in (ev.WINDOW, ev.MARKER)]
    doc = {
        "manifest": reader.manifest.to_dict(),
        "complete": reader.complete,
        "torn_tail": reader.torn_tail,
        "windows": reader.windows,
        "markers": reader.markers,
        "events": others,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


# ---------------------------------------------------------------- ELAN
# characters outside XML 1.0's Char production (C0 controls other than tab/newline/CR, lone surrogates, U+FFFE/F)
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_eaf(reader: SessionReader, media_path: str | os.PathLike[str] | None = None) -> str:
    """ELAN 3.0 annotation document.

    Tiers: ``emotion`` (label per window; overlapping windows go to ``emotion-2``, ``-3``…, because
    an ELAN tier cannot hold overlapping annotations), ``reasoning`` / ``reasoning-2``… as symbolic
    children of each emotion tier, and ``markers`` (200 ms spans, ``kind: text``). With
    ``media_path`` the header links that file (relative to the bundle when inside it).
    """
    origin = media_origin(reader) if (reader.has_video or reader.has_audio) else 0.0
    to_ms = lambda t: max(0, round((t - origin) * 1000))  # noqa: E731
    root = ET.Element(
        "ANNOTATION_DOCUMENT",
        {
            "AUTHOR": "",
            "DATE": _dt.datetime.fromtimestamp(reader.manifest.created_wall, _dt.timezone.utc).isoformat(),
            "FORMAT": "3.0",
            "VERSION": "3.0",
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
        },
    )
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if media_path is not None:
        p = Path(media_path).resolve()
        attrs = {"MEDIA_URL": p.as_uri(), "MIME_TYPE": "video/mp4" if p.suffix == ".mp4" else "video/*"}
        try:
            attrs["RELATIVE_MEDIA_URL"] = "./" + p.relative_to(reader.path.resolve()).as_posix()
        except ValueError:
            pass
        ET.SubElement(header, "MEDIA_DESCRIPTOR", attrs)
    order = ET.SubElement(root, "TIME_ORDER")
    slots: dict[int, str] = {}

    def slot(ms: int) -> str:
        if ms not in slots:
            slots[ms] = f"ts{len(slots) + 1}"
        return slots[ms]

    counter = iter(range(1, 10**9))
    tiers: list[ET.Element] = []
    windows = reader.windows
    lane_of = lanes([(w["t0"], w["t1"]) for w in windows])
    n_lanes = max(lane_of, default=0) + 1
    emo = [
        ET.Element(
            "TIER", {"LINGUISTIC_TYPE_REF": "emotion", "TIER_ID": "emotion" + (f"-{i + 1}" if i else "")}
        )
        for i in range(n_lanes)
    ]
    rea = [
        ET.Element(
            "TIER",
            {
                "LINGUISTIC_TYPE_REF": "reasoning",
                "PARENT_REF": emo[i].get("TIER_ID"),
                "TIER_ID": "reasoning" + (f"-{i + 1}" if i else ""),
            },
        )
        for i in range(n_lanes)
    ]
    for w, lane in zip(windows, lane_of):
        a, b = to_ms(w["t0"]), to_ms(w["t1"])
        if b <= a:
            continue
        aid = f"a{next(counter)}"
        ann = ET.SubElement(
            ET.SubElement(emo[lane], "ANNOTATION"),
            "ALIGNABLE_ANNOTATION",
            {"ANNOTATION_ID": aid, "TIME_SLOT_REF1": slot(a), "TIME_SLOT_REF2": slot(b)},
        )
        ET.SubElement(ann, "ANNOTATION_VALUE").text = w.get("label") or f"({w.get('parse_status')})"
        ref = ET.SubElement(
            ET.SubElement(rea[lane], "ANNOTATION"),
            "REF_ANNOTATION",
            {"ANNOTATION_ID": f"a{next(counter)}", "ANNOTATION_REF": aid},
        )
        ET.SubElement(ref, "ANNOTATION_VALUE").text = w.get("think") or w.get("text") or ""
    for pair in zip(emo, rea):
        tiers += pair
    markers = reader.markers
    m_lane = lanes([(m["t"], m["t"] + MARKER_SPAN_S) for m in markers])
    mk = (
        [
            ET.Element(
                "TIER", {"LINGUISTIC_TYPE_REF": "marker", "TIER_ID": "markers" + (f"-{i + 1}" if i else "")}
            )
            for i in range(max(m_lane, default=0) + 1)
        ]
        if markers
        else []
    )
    for m, lane in zip(markers, m_lane):
        a = to_ms(m["t"])
        ann = ET.SubElement(
            ET.SubElement(mk[lane], "ANNOTATION"),
            "ALIGNABLE_ANNOTATION",
            {
                "ANNOTATION_ID": f"a{next(counter)}",
                "TIME_SLOT_REF1": slot(a),
                "TIME_SLOT_REF2": slot(a + round(MARKER_SPAN_S * 1000)),
            },
        )
        ET.SubElement(ann, "ANNOTATION_VALUE").text = m["kind"] + (f": {m['text']}" if m.get("text") else "")
    tiers += mk
    for ms in sorted(slots):
        ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": slots[ms], "TIME_VALUE": str(ms)})
    # ELAN wants slots numbered in time order: renumber in place
    renum = {old: f"ts{i + 1}" for i, (_, old) in enumerate(sorted((ms, s) for ms, s in slots.items()))}
    for el in order:
        el.set("TIME_SLOT_ID", renum[el.get("TIME_SLOT_ID")])
    for tier in tiers:
        for al in tier.iter("ALIGNABLE_ANNOTATION"):
            al.set("TIME_SLOT_REF1", renum[al.get("TIME_SLOT_REF1")])
            al.set("TIME_SLOT_REF2", renum[al.get("TIME_SLOT_REF2")])
    root.extend(tiers)
    n_ann = next(counter) - 1
    ET.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"}).text = str(n_ann)
    ET.SubElement(header, "PROPERTY", {"NAME": "session_time_offset_ms"}).text = str(round(origin * 1000))
    ET.SubElement(header, "PROPERTY", {"NAME": "session_id"}).text = reader.manifest.session_id
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "emotion", "TIME_ALIGNABLE": "true"},
    )
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {
            "CONSTRAINTS": "Symbolic_Association",
            "GRAPHIC_REFERENCES": "false",
            "LINGUISTIC_TYPE_ID": "reasoning",
            "TIME_ALIGNABLE": "false",
        },
    )
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "marker", "TIME_ALIGNABLE": "true"},
    )
    ET.SubElement(
        root,
        "CONSTRAINT",
        {"DESCRIPTION": "1-1 association with a parent annotation", "STEREOTYPE": "Symbolic_Association"},
    )
    ET.indent(root, space="  ")
    for el in root.iter():  # model text may hold control characters, which XML 1.0 cannot carry
        if el.text:
            el.text = _XML_INVALID.sub("\ufffd", el.text)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------- WebVTT
def vtt_time(ms: int) -> str:
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_text(s: str) -> str:
    s = html.escape(s, quote=False).replace("-->", "--&gt;")
    return "\n".join(line for line in s.splitlines() if line.strip()) or " "


def to_vtt(reader: SessionReader) -> str:
    """WebVTT over the recorded media: one cue per window (``w<id>``), ``LABEL — reasoning``.

    Cues of overlapping windows overlap, as the windows do (players stack them).
    """
    origin = media_origin(reader) if (reader.has_video or reader.has_audio) else 0.0
    to_ms = lambda t: max(0, round((t - origin) * 1000))  # noqa: E731
    out = [
        f"WEBVTT - {reader.manifest.session_id}",
        "",
        f"NOTE session time of 00:00:00.000 = {origin:.3f} s; label set {reader.manifest.label_set}",
        "",
    ]
    for w in reader.windows:
        a, b = to_ms(w["t0"]), to_ms(w["t1"])
        if b <= a:
            continue
        label = (w.get("label") or f"({w.get('parse_status')})").upper()
        out += [
            f"w{w['window_id']}",
            f"{vtt_time(a)} --> {vtt_time(b)}",
            _vtt_text(f"{label} — {w.get('think') or w.get('text') or ''}"),
            "",
        ]
    return "\n".join(out)


# ---------------------------------------------------------------- HTML report
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;
background:#16181c;color:#e6e6e6}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#a8a8a8}.meta td{padding:1px 12px 1px 0}.notice{border-left:3px solid #E69F00;padding:6px 10px;
background:#22252b;margin:12px 0}svg text{fill:#cfcfcf;font-size:11px}
table.w{border-collapse:collapse;width:100%}
table.w td,table.w th{border-bottom:1px solid #2c3038;padding:4px 8px;vertical-align:top;text-align:left}
.chip{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.status{color:#a8a8a8;font-size:12px}.mono{font-family:ui-monospace,monospace}
"""


def _svg_timeline(
    windows: list[dict[str, Any]], markers: list[dict[str, Any]], t0: float, t1: float, width: int = 1000,
    shown: Callable[[str], str] = str,
) -> str:
    lane_of = lanes([(w["t0"], w["t1"]) for w in windows])
    n = max(lane_of, default=0) + 1
    lane_h, top, left = 22, 8, 8
    plot_w = width - 2 * left
    span = max(t1 - t0, 1e-6)
    x = lambda t: left + (t - t0) / span * plot_w  # noqa: E731
    height = top + n * lane_h + 28
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="emotion timeline">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#1d2026"/>',
    ]
    for w, lane in zip(windows, lane_of):
        y = top + lane * lane_h
        label = w.get("label")
        name = shown(label) if label else w.get("parse_status")
        title = html.escape(f"{fmt_clock(w['t0'])}–{fmt_clock(w['t1'])} {name}")
        parts.append(
            f'<rect class="win" data-label="{html.escape(label or "")}" x="{x(w["t0"]):.1f}" y="{y}" '
            f'width="{max(1.0, x(w["t1"]) - x(w["t0"]) - 1):.1f}" height="{lane_h - 4}" '
            f'fill="{_labels.colour(label)}"><title>{title}</title></rect>'
        )
    axis_y = top + n * lane_h + 4
    for m in markers:
        parts.append(
            f'<line x1="{x(m["t"]):.1f}" x2="{x(m["t"]):.1f}" y1="{top - 4}" y2="{axis_y}" '
            f'stroke="{MARKER_COLOURS.get(m["kind"], "#ffffff")}" stroke-dasharray="3,2">'
            f"<title>{html.escape(m['kind'] + ' ' + m.get('text', ''))}"
            f"</title></line>"
        )
    ticks = 8
    for i in range(ticks + 1):
        t = t0 + span * i / ticks
        anchor = "start" if i == 0 else "end" if i == ticks else "middle"
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{axis_y}" y2="{axis_y + 4}" stroke="#888"/>'
            f'<text x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="{anchor}">{fmt_clock(t)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_scores(
    windows: list[dict[str, Any]], names: list[str], t0: float, t1: float, width: int = 1000,
    shown: Callable[[str], str] = str,
) -> str:
    """One polyline per label: the model's score at each window's centre (0..1), with a legend."""
    left, top, plot_h = 8, 8, 90
    plot_w, span = width - 2 * left, max(t1 - t0, 1e-6)
    height = top + plot_h + 26
    x = lambda t: left + (t - t0) / span * plot_w  # noqa: E731
    y = lambda v: top + (1 - v) * plot_h  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="label scores">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#1d2026"/>',
    ]
    lx = left
    for name in names:
        pts = [
            (x((w["t0"] + w["t1"]) / 2), y(float(w["scores"][name])))
            for w in windows
            if (w.get("scores") or {}).get(name) is not None
        ]
        if not pts:
            continue
        col = _labels.colour(name)
        parts.append(
            f'<polyline class="score" data-label="{html.escape(name)}" fill="none" stroke="{col}" '
            f'stroke-width="1.5" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>'
        )
        parts.append(
            f'<rect x="{lx}" y="{top + plot_h + 10}" width="10" height="10" fill="{col}"/>'
            f'<text x="{lx + 14}" y="{top + plot_h + 19}">{html.escape(shown(name))}</text>'
        )
        lx += 24 + 7 * len(shown(name)) * (1 if shown(name).isascii() else 2)  # CJK glyphs are twice as wide
    parts.append("</svg>")
    return "".join(parts)


def _svg_distribution(counts: list[tuple[str, int]], width: int = 480, shown: Callable[[str], str] = str) -> str:
    bar_h, label_w = 20, 110
    total = sum(c for _, c in counts) or 1
    height = bar_h * max(1, len(counts)) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="label distribution">'
    ]
    for i, (label, c) in enumerate(counts):
        y = 4 + i * bar_h
        w = (width - label_w - 80) * c / total
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html.escape(shown(label))}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 6}" '
            f'fill="{_labels.colour(label if label in _labels.LABEL_COLOURS else None)}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{c} ({100 * c / total:.0f}%)</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def to_html(reader: SessionReader, language: str = "en") -> str:
    """A self-contained report (inline CSS and SVG, no scripts, no external assets). ``language``: how emotion
    label names read (``en``, ``zh_CN``: :func:`core.labels.display_name`); ids stay English in attributes."""
    m = reader.manifest
    shown = partial(_labels.display_name, language=language)
    html_lang = "zh-CN" if language == "zh_CN" else "en"
    windows, markers = reader.windows, reader.markers
    t0, t1 = reader.span
    counts = Counter(w.get("label") or f"({w.get('parse_status')})" for w in windows)
    order = [lab for lab in (m.labels or ()) if lab in counts] + sorted(
        k for k in counts if k not in (m.labels or ())
    )
    esc = html.escape
    created = _dt.datetime.fromtimestamp(m.created_wall, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = []
    for w in windows:
        label = w.get("label")
        name = shown(label) if label else "—"
        rows.append(
            f'<tr><td class="mono">{fmt_clock(w["t0"])}–{fmt_clock(w["t1"])}</td>'
            f'<td><span class="chip" style="background:{_labels.colour(label)}"></span>{esc(name)}'
            f'<div class="status">{esc(w.get("parse_status") or "")}'
            f" · audio {esc(w.get('audio_status') or '')}{_faces_note(w.get('faces'))}"
            f" · ready {w['finished_at'] - w['t1']:+.1f} s</div></td>"
            f"<td>{esc(w.get('think') or w.get('text') or '')}</td></tr>"
        )
    marker_rows = "".join(
        f'<tr><td class="mono">{fmt_clock(mk["t"])}</td><td>{esc(mk["kind"])}</td>'
        f"<td>{esc(mk.get('text') or '')}</td></tr>"
        for mk in markers
    )
    meta = [
        ("session", m.session_id),
        ("recorded", created),
        ("app version", m.app_version),
        ("model", f"{m.model_dir or '—'} ({(m.weights_hash or '')[:12] or 'no hash'})"),
        ("instruction", m.instruction),
        ("label set", m.label_set),
        ("window / hop", f"{m.window_s:g} s / {m.hop_s:g} s"),
        ("span", f"{fmt_clock(t0)}–{fmt_clock(t1)} ({len(windows)} windows, {len(markers)} markers)"),
    ]
    if m.source_session:
        meta.append(("re-analysis of", m.source_session))
    if not reader.complete:
        meta.append(
            (
                "state",
                "recording did not end cleanly (crash or still running): shown up to the last "
                "complete log line",
            )
        )
    scores_svg = (
        _svg_scores(windows, score_labels(windows, m.labels), t0, t1, shown=shown)
        if any(w.get("scores") for w in windows)
        else "<p>No scores.</p>"
    )
    marker_table = (
        f'<table class="w"><tr><th>time</th><th>kind</th><th>text</th></tr>{marker_rows}</table>'
        if markers
        else "<p>None.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="{html_lang}"><head><meta charset="utf-8"><title>R1-Omni Live session {esc(m.session_id[:8])}</title>
<style>{_CSS}</style></head><body>
<h1>R1-Omni Live — session report</h1>
<table class="meta">{"".join(f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in meta)}</table>
<div class="notice">{esc(m.usage_notice)} Notice accepted: {"yes" if m.usage_notice_accepted else "no"}.
Labels are the model's answers; scores are its own preferences, not calibrated probabilities.</div>
<h2>Emotion timeline</h2>
{_svg_timeline(windows, markers, t0, t1, shown=shown) if windows or markers else "<p>No analysed windows.</p>"}
<h2>Label scores <span class="status">(the model's own preference per label, not a probability)</span></h2>
{scores_svg}
<h2>Label distribution</h2>
{_svg_distribution([(k, counts[k]) for k in order], shown=shown) if windows else "<p>No analysed windows.</p>"}
<h2>Markers</h2>
{marker_table}
<h2>Reasoning per window</h2>
<table class="w"><tr><th>window</th><th>emotion</th><th>reasoning</th></tr>{"".join(rows)}</table>
</body></html>
"""


EXPORTERS: dict[str, Callable[..., str]] = {
    "csv": to_csv,
    "json": to_json,
    "eaf": to_eaf,
    "vtt": to_vtt,
    "html": to_html,
}


def default_media(reader: SessionReader) -> Path | None:
    """The single-file recording an ELAN document should link, if it exists."""
    p = reader.path / layout.RECORDING
    return p if p.is_file() else None


def render(reader: SessionReader, fmt: str, link_media: bool = True, language: str = "en") -> str:
    """The text of ``reader``'s session as ``fmt``; for ELAN with ``link_media``, the recorded video is joined
    into one file (made once) and linked. ``language`` names the labels of the HTML report (data files keep the
    canonical English ids)."""
    from core.session.media import consolidate

    if fmt not in EXPORTERS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "eaf":
        media = (default_media(reader) or consolidate(reader.path)) if link_media and reader.has_video else None
        return to_eaf(reader, media)
    if fmt == "html":
        return to_html(reader, language)
    return EXPORTERS[fmt](reader)


def export_session(reader: SessionReader, fmt: str, out: str | os.PathLike[str] | None = None,
                   link_media: bool = True, language: str = "en") -> Path:
    """Write ``reader``'s session as ``fmt`` (one of ``FORMATS``) to ``out`` (default: ``NAME.FMT`` inside the
    session folder) and return the path (``link_media``: see :func:`render`). The file appears whole or not at
    all (written beside, then renamed). Raises ``OSError`` when it cannot be written, ``ValueError`` for an
    unknown format."""
    text = render(reader, fmt, link_media, language)
    target = Path(out) if out else reader.path / f"{reader.path.resolve().name}.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return target
