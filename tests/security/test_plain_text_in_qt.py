"""Issue 10 item 7: bundle and model text never renders as Qt rich text (no markup, no local images loaded)."""

from __future__ import annotations

import dataclasses
import json

import pytest

pytest.importorskip("PySide6")
pytestmark = pytest.mark.usefixtures("dark_theme")  # the app's theme and Qt guard (tests/conftest.py)

from PySide6.QtCore import Qt

from core.results import WindowResult
from core.session import RecordOptions, SessionWriter
from tests.security.hostile import json_line
from tests.session import synth

IMG = "<img src='file:///etc/hostname'>"


def _hostile_result() -> WindowResult:
    r = synth.result(0, 0.0, 2.0)
    a = dataclasses.replace(
        r.analysis,
        label_set=IMG,
        answer=IMG,
        label=None,
        think=IMG,
        text=IMG,
        parse_status=IMG,
        scores={IMG: 0.5},
        timings={IMG: 0.1},
    )
    return dataclasses.replace(r, analysis=a, audio_status=f"<b>{IMG}</b>")


def test_the_evidence_view_shows_model_and_bundle_text_as_text(qtbot):
    from desktop.evidence_view import EvidenceView

    view = EvidenceView()
    qtbot.addWidget(view)
    view.show_window(_hostile_result(), None, frames_note=f"kept frames cannot be shown: {IMG}")
    details = view.details.toHtml()
    assert "<img" not in details and "&lt;img" in details  # label set, answer, reasoning, scores, timings
    assert "<img" not in view.header.text() and "&lt;img" in view.header.text()
    assert view._frames_title.textFormat() == Qt.TextFormat.PlainText and IMG in view._frames_title.text()
    view.show_window(_hostile_result(), synth.window(0, 0.0, 2.0, with_audio=False))  # audio: the bundle's status
    assert view.audio_title.textFormat() == Qt.TextFormat.PlainText and IMG in view.audio_title.text()


def test_the_timeline_legend_escapes_free_labels(qtbot):
    from desktop.timeline import EmotionTimeline

    timeline = EmotionTimeline()
    qtbot.addWidget(timeline)
    timeline.set_label_set(None)
    r = synth.result(0, 0.0, 2.0)
    timeline.add_result(dataclasses.replace(r, analysis=dataclasses.replace(r.analysis, label=IMG)))
    chips = [timeline.legend._layout.itemAt(i).widget() for i in range(timeline.legend._layout.count())]
    texts = [c.text() for c in chips if c is not None]
    assert any("&lt;img" in t for t in texts) and not any("<img" in t for t in texts)


def test_replay_notes_and_markers_are_plain_text(qtbot, tmp_path):
    from desktop.replay import ReplayWindow

    d = tmp_path / "s"
    w = SessionWriter(d, synth.manifest(), RecordOptions(record_video=False, window_frames=False))
    assert w.start()
    synth.feed(w, 0.0, 3.0)
    w.write_result(synth.result(0, 0.0, 2.0))
    w.add_marker("event", IMG, t=1.0)
    assert w.stop()
    with open(d / "events.jsonl", "ab") as f:  # a damaged line whose reason quotes the markup
        f.write(json_line({"type": "window", "t": 1.0, "window_id": 9, "t0": 0, "t1": 1, "text": [IMG]}))
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["source_session"], manifest["source_session_id"] = f"/x/{IMG}", "nope"
    (d / "manifest.json").write_text(json.dumps(manifest))
    win = ReplayWindow(d)
    qtbot.addWidget(win)
    assert win.note.textFormat() == Qt.TextFormat.PlainText and IMG in win.note.text()
    assert any(IMG in win.marker_box.itemText(i) for i in range(win.marker_box.count()))
    win.shutdown()
