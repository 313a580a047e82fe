"""JSON: the manifest, windows, markers and every other event of a session, as one document.

Lines are exported as logged (after the reader's checks); every string goes through
``escaping.clean_text``. ``left_out`` lists what the reader skipped (bad log lines, unusable files).
"""

from __future__ import annotations

import json

from core.session import events as ev
from core.session.export.common import left_out
from core.session.export.escaping import clean_json
from core.session.reader import SessionReader


def to_json(reader: SessionReader) -> str:
    others = [e for e in reader.events if e.get("type") not in (ev.WINDOW, ev.MARKER)]
    doc = {
        "manifest": reader.manifest.to_dict(),
        "complete": reader.complete,
        "torn_tail": reader.torn_tail,
        "windows": reader.windows,
        "markers": reader.markers,
        "events": others,
        "left_out": left_out(reader),
    }
    return json.dumps(clean_json(doc), ensure_ascii=False, indent=1)
