"""Every export is parsed back: CSV round trip, JSON, ELAN XML with aligned slots, WebVTT cues, HTML."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import av
import numpy as np
import pytest

import main
from core import labels
from core.session import RecordOptions, SessionReader, SessionWriter, layout
from core.session import export as ex
from core.session.media import consolidate
from tests.session import synth
from tests.session.vtt import parse_vtt

N_WINDOWS = 6  # 2 s windows every 1 s: they overlap, as in the live app


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("export") / "s"
    w = SessionWriter(d, synth.manifest(), RecordOptions())
    w.start()
    synth.feed(w, 0.0, N_WINDOWS + 1.0)
    for i in range(N_WINDOWS):
        status = "out_of_set" if i == 4 else "ok"
        r = synth.result(i, float(i), i + 2.0, status=status)
        if status != "ok":
            r = synth.result(i, float(i), i + 2.0)
            from dataclasses import replace

            r = replace(
                r, analysis=replace(r.analysis, label=None, parse_status=status, answer="bored", scores=None)
            )
        w.write_result(r, synth.window(i, float(i), i + 2.0))
    w.add_marker("event", "door <slams> & --> echo", t=1.5)
    w.add_marker("exclude", t=1.6)
    w.add_marker("custom", "laughs", t=4.25)
    assert w.stop()
    return d


def test_csv_round_trips_every_window(session):
    r = SessionReader(session)
    rows = list(csv.DictReader(io.StringIO(ex.to_csv(r))))
    assert len(rows) == N_WINDOWS
    for row, w in zip(rows, r.windows):
        assert int(row["window_id"]) == w["window_id"]
        assert float(row["t0"]) == w["t0"] and float(row["t1"]) == w["t1"]  # exact: repr floats
        assert float(row["wall_t1"]) == w["wall_t1"]
        assert row["think"] == w["think"] and row["text"] == w["text"]  # commas, quotes, newlines survive
        assert (row["label"] or None) == w["label"] and row["parse_status"] == w["parse_status"]
        assert float(row["latency_s"]) == pytest.approx(w["finished_at"] - w["t1"])
        for lab in labels.DFEW:
            got = row[f"score_{lab}"]
            want = (w["scores"] or {}).get(lab)
            assert (got == "" and want is None) or float(got) == want
        assert float(row["timing_generate_s"]) == w["timings"]["generate_s"]
    assert rows[4]["label"] == "" and rows[4]["answer"] == "bored"
    # who was in view (tests.session.synth.FACES, by window id)
    assert [(row["face_status"], row["faces_max"]) for row in rows[:4]] == [
        ("one", "1"), ("several", "2"), ("none", "0"), ("", "")
    ]


def test_json_holds_manifest_windows_and_markers(session):
    r = SessionReader(session)
    doc = json.loads(ex.to_json(r))
    assert doc["manifest"]["session_id"] == r.manifest.session_id and doc["complete"] is True
    assert doc["windows"] == json.loads(json.dumps(r.windows))
    assert [m["kind"] for m in doc["markers"]] == ["event", "exclude", "custom"]
    assert {e["type"] for e in doc["events"]} >= {"session_start", "recording_start", "session_end"}


def test_eaf_is_valid_elan_xml_with_aligned_time_slots(session):
    r = SessionReader(session)
    media = consolidate(session)
    root = ET.fromstring(ex.to_eaf(r, media))
    assert root.tag == "ANNOTATION_DOCUMENT" and root.get("FORMAT") == "3.0"
    # children in the order of the EAF 3.0 schema
    order = ["HEADER", "TIME_ORDER", "TIER", "LINGUISTIC_TYPE", "CONSTRAINT"]
    tags = [c.tag for c in root]
    assert tags == sorted(tags, key=order.index)
    header = root.find("HEADER")
    assert header.get("TIME_UNITS") == "milliseconds"
    md = header.find("MEDIA_DESCRIPTOR")
    assert md.get("RELATIVE_MEDIA_URL") == "./" + layout.RECORDING
    assert Path(md.get("MEDIA_URL").removeprefix("file://")).is_file()
    offset = int(header.find("PROPERTY[@NAME='session_time_offset_ms']").text)
    assert offset == round(ex.media_origin(r) * 1000)

    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    ids = [s.get("TIME_SLOT_ID") for s in root.iter("TIME_SLOT")]
    values = [slots[i] for i in ids]
    assert (
        len(set(ids)) == len(ids)
        and values == sorted(values)
        and ids == [f"ts{i + 1}" for i in range(len(ids))]
    )
    types = {lt.get("LINGUISTIC_TYPE_ID"): lt for lt in root.iter("LINGUISTIC_TYPE")}
    tiers = {t.get("TIER_ID"): t for t in root.iter("TIER")}
    assert all(t.get("LINGUISTIC_TYPE_REF") in types for t in tiers.values())
    all_ids = [a.get("ANNOTATION_ID") for a in root.iter() if a.tag.endswith("_ANNOTATION")]
    assert len(all_ids) == len(set(all_ids))
    assert header.find("PROPERTY[@NAME='lastUsedAnnotationId']").text == str(len(all_ids))

    emotion = {}
    for tid in ("emotion", "emotion-2"):  # overlapping windows need two lanes; no overlap inside a tier
        spans = []
        for al in tiers[tid].iter("ALIGNABLE_ANNOTATION"):
            a, b = slots[al.get("TIME_SLOT_REF1")], slots[al.get("TIME_SLOT_REF2")]
            assert a < b
            spans.append((a, b))
            emotion[al.get("ANNOTATION_ID")] = (a, b, al.findtext("ANNOTATION_VALUE"))
        assert all(s[1] <= n[0] for s, n in zip(spans, spans[1:]))
    expect = sorted(
        (
            round((w["t0"] - offset / 1000) * 1000),
            round((w["t1"] - offset / 1000) * 1000),
            w["label"] or "(out_of_set)",
        )
        for w in r.windows
    )
    assert sorted(emotion.values()) == expect

    for tid, parent in (("reasoning", "emotion"), ("reasoning-2", "emotion-2")):
        assert tiers[tid].get("PARENT_REF") == parent
        parent_ids = {a.get("ANNOTATION_ID") for a in tiers[parent].iter("ALIGNABLE_ANNOTATION")}
        refs = list(tiers[tid].iter("REF_ANNOTATION"))
        assert refs and all(x.get("ANNOTATION_REF") in parent_ids for x in refs)
    thinks = sorted(x.findtext("ANNOTATION_VALUE") for x in root.iter("REF_ANNOTATION"))
    assert thinks == sorted(w["think"] for w in r.windows)
    marks = [
        (slots[a.get("TIME_SLOT_REF1")], a.findtext("ANNOTATION_VALUE"))
        for t in tiers.values()
        if t.get("TIER_ID").startswith("markers")
        for a in t.iter("ALIGNABLE_ANNOTATION")
    ]
    assert sorted(marks)[0] == (1500 - offset, "event: door <slams> & --> echo")
    assert len(marks) == 3


def test_vtt_cues_match_the_windows(session):
    r = SessionReader(session)
    text = ex.to_vtt(r)
    cues = parse_vtt(text)
    origin = ex.media_origin(r)
    assert [c.id for c in cues] == [f"w{w['window_id']}" for w in r.windows]
    for c, w in zip(cues, r.windows):
        assert c.start_ms == round((w["t0"] - origin) * 1000) and c.end_ms == round((w["t1"] - origin) * 1000)
        assert c.text.startswith((w["label"] or "(out_of_set)").upper() + " — ")
    with pytest.raises(ValueError):
        parse_vtt(text.replace("-->", "->", 1))  # the parser does reject a broken file


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.external, self.rects = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key):
                self.external.append((tag, a[key]))
        if tag in ("script", "link", "iframe", "img"):
            self.external.append((tag, a))
        if tag == "rect" and a.get("class") == "win":
            self.rects.append(a)


def test_html_report_is_self_contained_and_coloured_by_label(session):
    r = SessionReader(session)
    page = ex.to_html(r)
    p = _Assets()
    p.feed(page)
    assert p.external == []
    assert len(p.rects) == N_WINDOWS
    for rect, w in zip(p.rects, r.windows):
        assert rect["fill"] == labels.colour(w["label"])
    assert "door &lt;slams&gt;" in page and r.windows[0]["think"].split('"')[0] in page
    assert page.count("· 2 faces") == len(r.windows[1::4]) and page.count("· no frontal face") == len(r.windows[2::4])


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None, reason="headless Chromium is not installed (apt-get install chromium)"
)
def test_html_report_renders_in_headless_chromium(session, tmp_path):
    from PIL import Image

    html_path = tmp_path / "report.html"
    html_path.write_text(ex.to_html(SessionReader(session)), encoding="utf-8")
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1100,900",
            f"--screenshot={shot}",
            html_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shot.is_file(), proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (900, 1100)
    # the timeline and distribution are drawn: every label present shows its colour
    for lab in {w["label"] for w in SessionReader(session).windows if w["label"]}:
        rgb = tuple(int(labels.colour(lab)[i : i + 2], 16) for i in (1, 3, 5))
        assert (img == rgb).all(axis=-1).sum() > 200, f"{lab} colour not on screen"
    assert (img == (0x16, 0x18, 0x1C)).all(axis=-1).mean() > 0.3  # the page background, not a blank page


def test_consolidated_recording_has_video_and_audio(session):
    out = consolidate(session)
    with av.open(str(out)) as c:
        assert c.streams.video and c.streams.audio
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == round((N_WINDOWS + 1.0) * synth.FPS)


def test_cli_writes_every_format_and_rejects_a_non_session(session, tmp_path, capsys):
    for fmt in ex.FORMATS:
        out = tmp_path / f"x.{fmt}"
        assert main.main(["export", str(session), "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 100
    assert main.main(["export", str(tmp_path), "--format", "csv"]) == 2
    assert "is not a session" in capsys.readouterr().err


def test_consolidated_file_keeps_audio_and_video_on_the_session_clock(tmp_path):
    """Audio that starts before the camera: the mp4's time 0 is the first audio sample, video starts later."""
    w = SessionWriter(tmp_path / "s", synth.manifest(), RecordOptions(window_frames=False))
    w.start()
    for b in range(30):
        w.write_audio(synth.tone(0.5 + b * 0.1, 1600), 0.5 + b * 0.1)
    for k in range(30):
        w.write_frame(synth.frame(1.5 + k / 15), 1.5 + k / 15)
    w.stop()
    r = SessionReader(tmp_path / "s")
    assert ex.media_origin(r) == 0.5
    out = consolidate(tmp_path / "s")
    with av.open(str(out)) as c:
        first_video = next(iter(c.decode(video=0))).time
    with av.open(str(out)) as c:
        first_audio = next(iter(c.decode(audio=0))).time
    assert first_video == pytest.approx(1.0, abs=0.01) and first_audio == pytest.approx(0.0, abs=0.01)
    # and the ELAN / VTT times count from that same origin
    cues = parse_vtt(ex.to_vtt(r))
    assert cues == []  # no windows in this session, but the header must still parse
    assert "= 0.500 s" in ex.to_vtt(r)



def test_eaf_stays_valid_xml_when_the_model_emits_control_characters(tmp_path):
    import dataclasses

    d = tmp_path / "ctl"
    w = SessionWriter(d, synth.manifest(), RecordOptions.analysis_only())
    w.start()
    r = synth.result(0, 0.0, 1.0)
    gibberish = "calm\x00 face\x07\x1b[31m\ufffe tab\there"
    w.write_result(dataclasses.replace(r, analysis=dataclasses.replace(r.analysis, think=gibberish, text=gibberish)))
    assert w.stop()
    root = ET.fromstring(ex.to_eaf(SessionReader(d)))  # raises ParseError on an invalid character
    values = [v.text or "" for v in root.iter("ANNOTATION_VALUE")]
    reasoning = next(v for v in values if "face" in v)
    assert "\x00" not in reasoning and "\x1b" not in reasoning and "tab\there" in reasoning
