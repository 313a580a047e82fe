"""The analyze and download commands (in-process through main.main)."""

from __future__ import annotations

import json

import numpy as np

import main
from tests.conftest import PARITY_DIR
from tests.support.media import make_video

CHECKPOINT = PARITY_DIR / "checkpoint"
MP4 = PARITY_DIR / "clips" / "clip_a.mp4"


def test_analyze_json_reproduces_the_official_tokens(capsys):
    rc = main.main(["analyze", str(MP4), "--model", str(CHECKPOINT), "--max-new-tokens", "24", "--json",
                    "--device", "cpu", "--dtype", "float32"])  # parity is defined in float32
    out = capsys.readouterr()
    assert rc == 0, out.err
    record = json.loads(out.out.strip().splitlines()[-1])
    with np.load(PARITY_DIR / "cases" / "va_mp4.npz") as z:
        assert record["token_ids"] == z["gen_ids"].tolist()
    assert record["modal"] == "video_audio" and record["frame_indices"] == [3, 8, 14, 19, 25, 30, 36, 41]
    assert record["parse_status"] == "no_answer" and record["label"] is None
    assert set(record["timings"]) >= {"preprocess", "vision", "audio", "prefill", "decode", "total"}


def test_analyze_streams_text_and_warns_about_missing_audio(tmp_path, capsys):
    video = make_video(tmp_path / "silent.mp4", seconds=1.0, audio=None)
    rc = main.main(["analyze", str(video), "--model", str(CHECKPOINT), "--max-new-tokens", "5", "--scores",
                    "--labels", "mafw"])
    out = capsys.readouterr()
    assert rc == 0
    assert "no audio track" in out.err
    assert "label:" in out.out and "scores (model preference, not calibrated)" in out.out
    assert "contemptuous" in out.out  # MAFW labels scored


def test_analyze_bad_inputs(tmp_path, capsys):
    assert main.main(["analyze", str(tmp_path / "nope.mp4"), "--model", str(CHECKPOINT)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main.main(["analyze", str(MP4), "--model", str(tmp_path / "no-model")]) == 3
    assert "Fix:" in capsys.readouterr().err
    assert main.main(["analyze", str(MP4), "--model", str(CHECKPOINT), "--labels", "colours"]) == 2
    assert "unknown label set" in capsys.readouterr().err
    # --ray with one clip is refused before the clip is decoded (a clip that does not exist is not even opened)
    assert main.main(["analyze", str(tmp_path / "nope.mp4"), "--model", str(CHECKPOINT), "--ray", ""]) == 2
    assert "--ray spreads a folder of clips" in capsys.readouterr().err


def test_analyze_folder_goes_to_batch(monkeypatch, tmp_path):
    from core.evaluation import batch

    seen = {}
    monkeypatch.setattr(batch, "analyze_folder_cli", lambda args: seen.setdefault("args", args) and 0)
    rc = main.main(["analyze", str(tmp_path), "--model", "m", "--out", str(tmp_path / "r.jsonl")])
    assert rc == 0 and seen["args"].out == tmp_path / "r.jsonl" and seen["args"].video == str(tmp_path)


def test_download_offline_gives_a_clear_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc = main.main(["download", "--dir", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "cannot be reached" in err and "Fix:" in err
