"""CSV: one row per analysed window, ``score_<label>`` and ``timing_<stage>`` columns; empty cell = none.

Each row also carries the answer's consistency checks (``core.consistency``) and, for a window re-run video-only,
what the voice added (``core.attribution``) with a ``voice_shift_<label>`` column per score shift.

Numbers are written exactly (``repr`` of floats) and stay numbers; every text cell goes through
``escaping.csv_cell`` (control characters replaced, formula prefixes neutralised with a leading ``'``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from core.attribution import Attribution
from core.faces import status_of
from core.session.export.common import checks_of, score_labels, timing_names
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
    "profile",  # exact | fast (approximate: int8 decoding, Whisper over the window's own seconds)
    "label_set",
    "think",
    "text",
    "reasoning_concludes",  # labels the reasoning's last emotion-naming sentence names (core.consistency)
    "consistency_flags",  # failed checks, ";"-separated: answer_vs_reasoning, voice_without_audio, person_vs_faces
    "consistency_reasons",  # their reasons, " | "-separated
    "voice_effect",  # what the voice added (core.attribution), e.g. "the voice changed fear → angry"; empty: not run
    "video_only_label",
    "video_only_answer",
    "voice_changed_label",  # true | false
    "attribution_s",  # seconds the video-only re-run took
)


def _fields(w: LoggedWindow, attribution: Attribution | None) -> dict[str, Any]:
    r, a = w.result, w.analysis
    faces = r.faces
    checks = checks_of(w)
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
        "profile": a.profile,
        "label_set": a.label_set,
        "think": a.think,
        "text": a.text,
        "reasoning_concludes": " or ".join(checks.conclusion),
        "consistency_flags": ";".join(f.check for f in checks.flags),
        "consistency_reasons": " | ".join(f.reason for f in checks.flags),
        **({} if attribution is None else {
            "voice_effect": attribution.summary(),
            "video_only_label": attribution.video_only.label,
            "video_only_answer": attribution.video_only.answer,
            "voice_changed_label": attribution.label_changed,
            "attribution_s": attribution.seconds,
        }),
    }


def to_csv(reader: SessionReader) -> str:
    """The table as text (``\\n`` line ends; cells with newlines are quoted)."""
    windows = reader.logged_windows
    attributions = reader.attributions
    scores = score_labels(windows, reader.labels)
    timings = timing_names(windows)
    shifts = list(dict.fromkeys(k for a in attributions.values() for k in a.score_shift or {}))
    header = [*CSV_FIELDS, *(f"score_{s}" for s in scores), *(f"timing_{s}" for s in timings),
              *(f"voice_shift_{s}" for s in shifts)]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([csv_cell(h) for h in header])
    for w in windows:
        a = attributions.get(w.window_id)
        row = _fields(w, a)
        values = [row.get(k) for k in CSV_FIELDS]
        values += [(w.analysis.scores or {}).get(s) for s in scores]
        values += [w.analysis.timings.get(s) for s in timings]
        values += [((a.score_shift if a is not None else None) or {}).get(s) for s in shifts]
        out.writerow([csv_cell(v) for v in values])
    return buf.getvalue()
