"""The headless monitor command and the --source words shared with the desktop app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.capture.camera import CameraSource
from core.capture.media_file import MediaFileSource
from core.capture.synthetic import SyntheticSource
from core.sources import open_sources
from tests.conftest import PARITY_DIR, ROOT


def test_source_words():
    cam = open_sources("camera:2", mic="none")
    assert isinstance(cam.video, CameraSource) and cam.video.target == 2 and cam.audio is None
    assert any("video only" in n for n in cam.notes)
    demo = open_sources("demo")
    assert isinstance(demo.video, MediaFileSource) and demo.video is demo.audio and demo.video.loop
    assert isinstance(open_sources("synthetic").video, SyntheticSource)
    url = open_sources("tcp://127.0.0.1:9", mic="none")
    assert isinstance(url.video, CameraSource) and url.video.target == "tcp://127.0.0.1:9"
    with pytest.raises(ValueError, match="neither a file"):
        open_sources("/no/such/clip.mp4")
    with pytest.raises(ValueError, match="not a number"):
        open_sources("camera:front")


@pytest.mark.slow
def test_monitor_streams_json_results_and_records(tmp_path):
    clip = PARITY_DIR / "clips" / "clip_a.mp4"
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "monitor", "--source", str(clip), "--model",
         str(PARITY_DIR / "checkpoint"), "--window", "1", "--hop", "0.5", "--max-new-tokens", "4",
         "--no-warmup", "--record", str(tmp_path / "rec")],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.split("\n") if line]
    assert lines, out.stderr
    for r in lines:
        assert r["t1"] - r["t0"] == pytest.approx(1.0) and len(r["token_ids"]) <= 4
        assert r["parse_status"] in ("ok", "empty", "no_answer", "unclosed_answer", "out_of_set", "no_think")
    assert "end of file" in out.stderr
    log = [json.loads(x) for x in (tmp_path / "rec" / "events.jsonl").read_text().splitlines()]
    assert [e["window_id"] for e in log if e["type"] == "window"] == [r["window_id"] for r in lines]


def test_monitor_reports_a_bad_model_folder(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "monitor", "--source", "synthetic", "--model",
         str(tmp_path / "missing"), "--duration", "30"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 1
    assert "Could not load the model" in out.stderr and str(tmp_path / "missing") in out.stderr


@pytest.mark.slow
def test_monitor_every_window_of_a_file_gives_a_complete_timeline(tmp_path):
    import math

    from core.clip_decode import read_clip

    clip = PARITY_DIR / "clips" / "clip_a.mp4"
    duration = read_clip(clip).duration
    window, hop = 1.0, 0.5
    want = math.floor((duration - window) / hop + 1e-6) + 1
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "monitor", "--source", str(clip), "--model",
         str(PARITY_DIR / "checkpoint"), "--window", str(window), "--hop", str(hop), "--max-new-tokens", "6",
         "--every-window", "--record", str(tmp_path / "rec")],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.split("\n") if line]
    assert [r["window_id"] for r in lines] == list(range(want)), out.stderr
    assert [r["t1"] for r in lines] == pytest.approx([window + hop * i for i in range(want)])
    assert f"{want} of {want} windows analysed" in out.stderr
    log = [json.loads(x) for x in (tmp_path / "rec" / "events.jsonl").read_text().splitlines()]
    assert [e["window_id"] for e in log if e["type"] == "window"] == list(range(want))
    assert not [e for e in log if e["type"] == "superseded"]


def test_monitor_every_window_needs_a_file():
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "monitor", "--source", "synthetic", "--model", "unused",
         "--every-window"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2 and "--every-window needs a media file" in out.stderr


def test_the_old_spelling_of_reanalyze_still_runs_the_command(capsys):
    import main

    rc = main.main(["reanalyse", "--help-not-an-option"])  # reaches reanalyze's own parser
    err = capsys.readouterr().err
    assert rc == 2 and "'reanalyse' is now 'reanalyze'" in err and "reanalyze" in err.splitlines()[-1]
