"""Windows analysed with the fast (approximate) profile say so in the log and in every export; exact ones do not."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from core.session import RecordOptions, SessionReader, SessionWriter
from core.session import export as ex
from tests.session import synth
from tests.session.vtt import parse_vtt

FAST_IDS = (1, 2)  # of windows 0..3


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("profiles") / "s"
    w = SessionWriter(d, synth.manifest(generation={"max_new_tokens": 24, "profile": "fast"}),
                      RecordOptions.analysis_only())
    assert w.start()
    for i in range(4):
        r = synth.result(i, float(i), i + 2.0)
        if i in FAST_IDS:
            r = replace(r, analysis=replace(r.analysis, profile="fast"))
        w.write_result(r)
    assert w.stop(wait=True)
    return d


def test_the_log_keeps_each_windows_profile(bundle):
    reader = SessionReader(bundle)
    assert [w.analysis.profile for w in reader.logged_windows] == ["exact", "fast", "fast", "exact"]
    assert reader.manifest.generation["profile"] == "fast"


def test_every_export_marks_the_approximate_windows(bundle):
    reader = SessionReader(bundle)
    rows = list(csv.DictReader(io.StringIO(ex.render(reader, "csv"))))
    assert [r["profile"] for r in rows] == ["exact", "fast", "fast", "exact"]

    doc = json.loads(ex.render(reader, "json"))
    assert [w["profile"] for w in doc["windows"]] == ["exact", "fast", "fast", "exact"]
    assert doc["summary"]["approximate_windows"] == 2

    cues = parse_vtt(ex.render(reader, "vtt"))
    approximate = [c for c in cues if "(approximate)" in c.text]
    assert len(cues) == 4 and len(approximate) == 2
    assert "fast profile" in ex.render(reader, "vtt").split("\n\nw0")[0]  # said once in the header notes

    eaf = ET.fromstring(ex.render(reader, "eaf"))
    values = [v.text for v in eaf.iter("ANNOTATION_VALUE")]
    assert sum("(approximate)" in (v or "") for v in values) == 2
    assert any(p.get("NAME") == "approximate_windows" for p in eaf.iter("PROPERTY"))

    page = ex.render(reader, "html")
    assert page.count("approximate (fast profile)") == 2 and "2 of 4 windows made with the fast profile" in page


def test_an_exact_session_says_nothing_of_approximation(tmp_path):
    w = SessionWriter(tmp_path / "s", synth.manifest(), RecordOptions.analysis_only())
    assert w.start()
    w.write_result(synth.result(0, 0.0, 2.0))
    assert w.stop(wait=True)
    reader = SessionReader(tmp_path / "s")
    for fmt in ("csv", "json", "vtt", "eaf", "html"):
        text = ex.render(reader, fmt)
        assert "approximate" not in text.replace("approximate_windows\": 0", ""), fmt
