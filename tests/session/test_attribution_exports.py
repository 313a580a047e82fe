"""Attributions and consistency checks in the session files: read back from the log (damaged lines left out),
carried into CSV, JSON and the HTML report (end to end: flags reach the report), and written by
``reanalyze --attribution``."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import main
from core.attribution import ATTRIBUTION_EVENT, attribution_of
from core.results import AnalysisResult
from core.session import RecordOptions, SessionReader, SessionWriter
from core.session import export as ex
from core.session.reanalysis import reanalyze
from tests.session import synth
from tests.session.test_reanalysis import BrightnessModel


def _video_only(label):
    text = f"<think>The face alone looks {label}.</think><answer>{label}</answer>"
    return AnalysisResult((5, 6), text, f"The face alone looks {label}.", label, label, "ok", "dfew", "video",
                          {lab: (0.6 if lab == label else 0.1) for lab in synth.LABELS}, {"total": 1.5})


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """Four windows: 0 happy (attributed: the voice changed fear → happy), 1 sad with two faces in view,
    2 neutral whose reasoning disagrees, speaks of a voice without audio and of one person with no face in view
    (attributed: nothing changed), 3 angry; plus an attribution line for a window that was never logged and a
    damaged one."""
    d = tmp_path_factory.mktemp("attr") / "s"
    w = SessionWriter(d, synth.manifest(), RecordOptions.analysis_only())
    assert w.start()
    results = [synth.result(i, float(i), i + 2.0) for i in range(4)]
    think = "His voice is shaky; he is clearly afraid."
    a2 = replace(results[2].analysis, think=think, text=f"<think>{think}</think><answer>neutral</answer>")
    results[2] = replace(results[2], analysis=a2, audio_status="missing")
    for r in results:
        w.write_result(r)
    w.write_event(ATTRIBUTION_EVENT, **attribution_of(0, 0.0, 2.0, results[0].wall_t0, results[0].analysis,
                                                      _video_only("fear"), 1.25).to_dict())
    same = replace(results[2].analysis, modal="video")
    w.write_event(ATTRIBUTION_EVENT, **attribution_of(2, 2.0, 4.0, results[2].wall_t0, results[2].analysis, same,
                                                      1.75).to_dict())
    w.write_event(ATTRIBUTION_EVENT, **attribution_of(9, 9.0, 11.0, 0.0, results[0].analysis, same, 1.0).to_dict())
    w.write_event(ATTRIBUTION_EVENT, window_id=1, t0=1.0, summary="<script>", video_only="nope")
    assert w.stop()
    return d


def test_the_reader_gives_the_logged_attributions_and_leaves_damaged_ones_out(session):
    r = SessionReader(session)
    found = r.attributions
    assert sorted(found) == [0, 2] and r.skipped_attributions == 2
    assert found[0].summary() == "the voice changed fear → happy" and found[0].seconds == 1.25
    assert found[2].summary() == "the voice changed nothing"


def test_csv_carries_checks_attributions_and_score_shifts(session):
    rows = list(csv.DictReader(io.StringIO(ex.to_csv(SessionReader(session)))))
    by_id = {int(row["window_id"]): row for row in rows}
    assert by_id[0]["voice_effect"] == "the voice changed fear → happy"
    assert by_id[0]["video_only_label"] == "fear" and by_id[0]["voice_changed_label"] == "true"
    assert float(by_id[0]["attribution_s"]) == 1.25
    assert float(by_id[0]["voice_shift_happy"]) == pytest.approx(0.7 - 0.1)
    assert float(by_id[0]["voice_shift_sad"]) == pytest.approx(0.0)
    assert "voice_shift_fear" not in by_id[0]  # a shift needs both answers' scores: fear is not a synth label
    assert by_id[2]["voice_changed_label"] == "false" and by_id[3]["voice_effect"] == ""
    # window 2: "he is clearly afraid" against neutral, "his voice" without audio, "his" with no face in view
    assert by_id[2]["consistency_flags"] == "answer_vs_reasoning;voice_without_audio;person_vs_faces"
    assert "the reasoning concludes fear; the answer is neutral" in by_id[2]["consistency_reasons"]
    assert by_id[2]["reasoning_concludes"] == "fear"
    assert by_id[1]["consistency_flags"] == "person_vs_faces"  # "the speaker" with two faces in view
    assert by_id[0]["consistency_flags"] == ""


def test_json_nests_each_attribution_in_its_window_and_counts(session):
    doc = json.loads(ex.to_json(SessionReader(session)))
    windows = {w["window_id"]: w for w in doc["windows"]}
    assert windows[0]["attribution"]["summary"] == "the voice changed fear → happy"
    assert "attribution" not in windows[1]
    assert [f["check"] for f in windows[2]["consistency"]["flags"]] == ["answer_vs_reasoning", "voice_without_audio",
                                                                        "person_vs_faces"]
    assert not any(e["type"] == ATTRIBUTION_EVENT for e in doc["events"])  # nested, not repeated
    assert doc["summary"]["consistency"] == {"answer_vs_reasoning": 1, "voice_without_audio": 1,
                                             "person_vs_faces": 2, "checked": 4, "flagged": 2}
    assert doc["summary"]["attribution"]["attributed"] == 2
    assert doc["summary"]["attribution"]["changes"] == {"fear → happy": 1}


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.checks, self.text, self._check = {}, [], None

    def handle_starttag(self, tag, attrs):
        self._check = dict(attrs).get("data-check")

    def handle_data(self, data):
        self.text.append(data)
        if self._check:
            self.checks[self._check] = int(data)
            self._check = None


def test_flags_and_attributions_reach_the_html_report_end_to_end(session, tmp_path):
    """Through the export command, as a user runs it."""
    out = tmp_path / "report.html"
    assert main.main(["export", str(session), "--format", "html", "--out", str(out)]) == 0
    page = _Cells()
    page.feed(out.read_text(encoding="utf-8"))
    text = " ".join(page.text)
    assert page.checks == {"answer_vs_reasoning": 1, "voice_without_audio": 1, "person_vs_faces": 2}
    assert "2 of 4 answers raised at least one flag" in text
    assert "the reasoning concludes fear; the answer is neutral" in text
    assert "reasoning describes a voice the model did not hear" in text
    assert "2 of 4 windows were re-run video-only" in text and "the voice changed fear → happy" in text
    assert "<script>" not in out.read_text(encoding="utf-8")


def test_reanalyze_with_attribution_logs_what_the_voice_added(tmp_path):
    orig = tmp_path / "orig"
    w = SessionWriter(orig, synth.manifest(), RecordOptions(frame_format="png"))
    assert w.start()
    synth.feed(w, 0.0, 4.0)
    for i in range(3):
        r = synth.result(i, float(i), i + 2.0)
        if i == 1:  # analysed without audio when recorded: re-analysed so again
            r = replace(r, analysis=replace(r.analysis, modal="video"), audio_status="missing")
        w.write_result(r, synth.window(i, float(i), i + 2.0))
    assert w.stop()

    class Model(BrightnessModel):
        def analyze(self, frames, audio, instruction, **kw):
            r = super().analyze(frames, audio, instruction, **kw)
            return r if audio is not None else replace(r, label="fear", answer="fear", text=r.text + " alone")

    model = Model()
    rep = reanalyze(orig, model, out_dir=tmp_path / "re", attribution=True)
    new = SessionReader(tmp_path / "re")
    found = new.attributions
    # window 1 was analysed video-only: nothing to take away; the others were each run twice on the same frames
    assert sorted(found) == [0, 2] and len(rep.attributions) == 2
    assert [c["audio"] is None for c in model.calls] == [False, True, True, False, True]
    for av_call, v_call in ((model.calls[0], model.calls[1]), (model.calls[3], model.calls[4])):
        np.testing.assert_array_equal(av_call["frames"], v_call["frames"])
    assert all(a.video_only_label == "fear" and a.label_changed for a in found.values())
    assert new.manifest.extra["attribution"] is True


def test_reanalyze_command_prints_what_the_voice_added(tmp_path, monkeypatch, capsys):
    from core import model as core_model

    orig = tmp_path / "orig"
    w = SessionWriter(orig, synth.manifest(), RecordOptions(frame_format="png"))
    assert w.start()
    synth.feed(w, 0.0, 3.0)
    w.write_result(synth.result(0, 0.0, 2.0), synth.window(0, 0.0, 2.0))
    assert w.stop()
    monkeypatch.setattr(core_model, "load_model", lambda *a, **k: BrightnessModel())
    assert main.main(["reanalyze", str(orig), "--model", "M", "--out", str(tmp_path / "re"), "--attribution"]) == 0
    out = capsys.readouterr().out
    assert "what the voice added: 1 of 1 windows re-run video-only" in out


def test_a_hostile_attribution_line_is_escaped_in_every_export(tmp_path):
    d = tmp_path / "s"
    w = SessionWriter(d, synth.manifest(), RecordOptions.analysis_only())
    assert w.start()
    r = synth.result(0, 0.0, 2.0)
    w.write_result(r)
    evil = "=HYPERLINK(\"x\")<script>alert(1)</script>\x1b[31m"
    vo = replace(_video_only("fear"), label=evil, answer=evil, think=evil, text=evil)
    w.write_event(ATTRIBUTION_EVENT, **attribution_of(0, 0.0, 2.0, r.wall_t0, r.analysis, vo, 1.0).to_dict())
    assert w.stop()
    reader = SessionReader(d)
    row = next(csv.DictReader(io.StringIO(ex.to_csv(reader))))
    assert row["video_only_label"].startswith("'=") and "\x1b" not in row["video_only_label"]
    page = ex.to_html(reader)
    assert "<script>" not in page and "&lt;script&gt;" in page and "\x1b" not in page
    assert "\x1b" not in ex.to_json(reader)
