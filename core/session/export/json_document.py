"""JSON: the manifest, windows, markers and every other event of a session, as one document.

Lines are exported as logged (after the reader's checks); every string goes through
``escaping.clean_text``. ``left_out`` lists what the reader skipped (bad log lines, unusable files).
Each window carries its consistency checks and, when it was re-run video-only, ``attribution`` (what the voice
added; those log lines are nested there, not repeated in ``events``); ``summary`` counts both.
"""

from __future__ import annotations

import json

from core import consistency as _consistency
from core.attribution import ATTRIBUTION_EVENT, summary_counts
from core.session import events as ev
from core.session.export.common import approximate, checks_of
from core.session.export.escaping import clean_json
from core.session.reader import SessionReader


def to_json(reader: SessionReader) -> str:
    others = [e for e in reader.events if e.get("type") not in (ev.WINDOW, ev.MARKER, ATTRIBUTION_EVENT)]
    attributions = reader.attributions
    checks = [checks_of(w) for w in reader.logged_windows]
    windows = []
    for w, c in zip(reader.logged_windows, checks):
        a = attributions.get(w.window_id)
        windows.append({**w.to_dict(), "consistency": c.to_dict(),
                        **({"attribution": a.to_dict()} if a is not None else {})})
    doc = {
        "manifest": reader.manifest.to_dict(),
        "complete": reader.complete,
        "torn_tail": reader.torn_tail,
        "summary": {"consistency": _consistency.flag_counts(checks),
                    "approximate_windows": approximate(reader),
                    "attribution": summary_counts(attributions.values())},
        "windows": windows,
        "markers": reader.markers,
        "events": others,
        "left_out": list(reader.left_out()),
    }
    return json.dumps(clean_json(doc), ensure_ascii=False, indent=1)
