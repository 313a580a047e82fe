"""CSV: one row per analysed window, ``score_<label>`` and ``timing_<stage>`` columns; empty cell = none.

Numbers are written exactly (``repr`` of floats) and stay numbers; every text cell goes through
``escaping.csv_cell`` (control characters replaced, formula prefixes neutralised with a leading ``'``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from core.faces import status_of
from core.session.export.common import score_labels, timing_names
from core.session.export.escaping import csv_cell
from core.session.reader import SessionReader
from core.session.records import LoggedWindow

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


def _fields(w: LoggedWindow) -> dict[str, Any]:
    r, a = w.result, w.analysis
    faces = r.faces
    return {
        "window_id": r.window_id,
        "t0": r.t0,
        "t1": r.t1,
        "wall_t0": r.wall_t0,
        "wall_t1": w.line.get("wall_t1"),
        "finished_at": r.finished_at,
        "latency_s": w.latency_s,
        "label": a.label,
        "answer": a.answer,
        "parse_status": a.parse_status,
        "audio_status": r.audio_status,
        "face_status": status_of(faces),
        "faces_max": max(faces, default=0) if faces is not None else None,
        "modal": a.modal,
        "label_set": a.label_set,
        "think": a.think,
        "text": a.text,
    }


def to_csv(reader: SessionReader) -> str:
    """The table as text (``\\n`` line ends; cells with newlines are quoted)."""
    windows = reader.logged_windows
    scores = score_labels(windows, reader.labels)
    timings = timing_names(windows)
    header = [*CSV_FIELDS, *(f"score_{s}" for s in scores), *(f"timing_{s}" for s in timings)]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([csv_cell(h) for h in header])
    for w in windows:
        row = _fields(w)
        values = [row[k] for k in CSV_FIELDS]
        values += [(w.analysis.scores or {}).get(s) for s in scores]
        values += [w.analysis.timings.get(s) for s in timings]
        out.writerow([csv_cell(v) for v in values])
    return buf.getvalue()
