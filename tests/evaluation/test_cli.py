"""The evaluate command and folder analysis end to end, with the fake model and decoder in place."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import main
from core.engine import EVALUATION_INSTRUCTION, OFFICIAL_INSTRUCTION
from core.evaluation import runner
from core.evaluation.batch import analyze_folder_cli

from .fakes import FakeModel, FakeReader

ANSWERS = {0: "<think>t</think><answer>happy</answer>", 1: "<answer>sad</answer>", 2: "no idea", 3: "angry"}


@pytest.fixture
def fake(monkeypatch):
    names = {"a.mp4": 0, "b.mp4": 1, "c.mp4": 2, "d.mp4": 3, "bad.mp4": 0}
    model = FakeModel(ANSWERS)
    loaded = []
    def load(path, device, dtype, profile="exact"):
        loaded.append((path, device, dtype) if profile == "exact" else (path, device, dtype, profile))
        return model

    monkeypatch.setattr(runner, "load_analyzer", load)
    monkeypatch.setattr(runner, "_default_reader", lambda count, side_px: FakeReader(names, bad=("bad.mp4",)))
    model.loaded = loaded
    return model


def make_manifest(tmp_path: Path) -> Path:
    for n in ("a", "b", "c", "d", "bad"):
        (tmp_path / f"{n}.mp4").write_bytes(b"")
    m = tmp_path / "set.csv"
    m.write_text("path,label\na.mp4,happy\nb.mp4,Sadness\nc.mp4,sad\nd.mp4,angry\nbad.mp4,fear\n")
    return m


def test_evaluate_writes_the_report_and_compares_runs(tmp_path, fake, capsys):
    m = make_manifest(tmp_path)
    out = tmp_path / "run1"
    code = main.main(["evaluate", str(m), "--model", "M", "--out", str(out), "--max-new-tokens", "9",
                      "--device", "cpu"])
    assert code == 0
    assert fake.loaded == [("M", "cpu", "auto")]
    assert fake.kwargs[0]["instruction"] == EVALUATION_INSTRUCTION and fake.kwargs[0]["max_new_tokens"] == 9
    data = json.loads((out / "metrics.json").read_text())
    # happy 1/1, sad 1/2 (c unparsed), angry 1/1 (bare label); fear clip undecodable
    assert data["metrics"]["uar"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert data["metrics"]["war"] == pytest.approx(3 / 4)
    assert data["clips"]["decode_errors"] == 1 and data["dataset"]["layout"] == "manifest"
    for f in ("results.jsonl", "per_class.md", "per_class.csv", "confusion.csv", "confusion.png"):
        assert (out / f).is_file()
    printed = capsys.readouterr()
    assert "UAR 83.33 %" in printed.out and "dataset: 5 clips" in printed.err

    code = main.main(["evaluate", str(m), "--model", "M", "--out", str(tmp_path / "run2"), "--limit", "2",
                      "--instruct", "official"])
    assert code == 0 and fake.kwargs[-1]["instruction"] == OFFICIAL_INSTRUCTION
    capsys.readouterr()
    assert main.main(["evaluate", "--compare", str(out), str(tmp_path / "run2")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["run1", "run2"]
    assert "UAR %" in table and "83.33" in table and "100.00" in table


def test_rerun_resumes_and_other_settings_are_refused_before_loading(tmp_path, fake, capsys):
    m = make_manifest(tmp_path)
    out = tmp_path / "run"
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out), "--limit", "2"]) == 0
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out)]) == 0
    assert fake.seen == [0, 1, 2, 3]  # every clip analysed once; bad.mp4 never reaches the model
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 5
    n_loads = len(fake.loaded)
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out), "--instruct", "official"]) == 2
    assert len(fake.loaded) == n_loads  # refused before the model was loaded
    assert "different instruction" in capsys.readouterr().err


def test_ctrl_c_writes_a_partial_report_and_the_rerun_finishes(tmp_path, fake, capsys):
    m = make_manifest(tmp_path)
    out = tmp_path / "run"
    fake.interrupt_at = 2
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out)]) == 130
    data = json.loads((out / "metrics.json").read_text())
    assert data["clips"]["scored"] == 2 and data["clips"]["pending"] == 3
    assert "rerun the same command to resume" in capsys.readouterr().err
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out)]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["clips"]["scored"] == 4 and data["clips"]["pending"] == 0 and fake.seen == [0, 1, 2, 3]


def test_bad_dataset_is_a_clear_error(tmp_path, fake, capsys):
    (tmp_path / "x.mp4").write_bytes(b"")
    assert main.main(["evaluate", str(tmp_path), "--model", "M"]) == 2
    assert "Accepted dataset layouts" in capsys.readouterr().err
    assert main.main(["evaluate", "--compare", str(tmp_path / "missing")]) == 2
    assert main.main(["evaluate", str(tmp_path)]) == 2
    assert fake.loaded == []


def test_folder_analysis(tmp_path, fake, capsys):
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    for n in ("a.mp4", "sub/b.mp4", "bad.mp4", "notes.txt"):
        (folder / n).write_bytes(b"")
    args = argparse.Namespace(video=str(folder), model="M", out=str(tmp_path / "r.jsonl"), instruct=None,
                              labels=None, modal="video_audio", max_new_tokens=7, device="auto", dtype="auto")
    assert analyze_folder_cli(args) == 0
    recs = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert recs[0]["record"] == "run" and recs[0]["instruction"] == OFFICIAL_INSTRUCTION
    clips = {r["key"]: r for r in recs[1:]}
    assert set(clips) == {"a.mp4", "bad.mp4", "sub/b.mp4"}
    assert clips["a.mp4"]["prediction"] == "happy" and clips["sub/b.mp4"]["prediction"] == "sad"
    assert clips["bad.mp4"]["status"] == "decode_error" and clips["a.mp4"]["truth"] is None
    err = capsys.readouterr().err
    assert "2 analysed, 1 failed" in err and "clips/s" in err
    assert analyze_folder_cli(args) == 0  # resumed: nothing analysed again
    assert len(fake.seen) == 2
    args.labels = "free"
    assert analyze_folder_cli(args) == 2  # other label set: refused, not mixed
    (tmp_path / "empty").mkdir()
    assert analyze_folder_cli(args, tmp_path / "empty") == 2


def test_a_model_failing_on_every_clip_ends_with_the_error(tmp_path, fake, capsys, monkeypatch):
    m = make_manifest(tmp_path)
    monkeypatch.setattr(runner, "MAX_CONSECUTIVE_MODEL_ERRORS", 3)
    fake.fail = (0, 1, 2, 3)
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(tmp_path / "run")]) == 3
    err = capsys.readouterr().err
    assert "the model failed on the first 3 clips" in err and "boom 2" in err
    data = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert data["clips"]["model_errors"] == 3 and data["clips"]["pending"] == 2


def test_bad_batch_sizes_are_refused_before_the_model_loads(tmp_path, fake, capsys):
    m = make_manifest(tmp_path)
    base = ["evaluate", str(m), "--model", "M", "--out", str(tmp_path / "run")]
    assert main.main([*base, "--batch-size", "0"]) == 2
    assert "batch size 0" in capsys.readouterr().err
    assert main.main([*base, "--batch-size", "2", "--scores"]) == 2
    assert "drop --scores or use --batch-size 1" in capsys.readouterr().err
    assert main.main(["analyze", str(tmp_path), "--model", "M", "--batch-size", "0"]) == 2
    assert "batch size 0" in capsys.readouterr().err
    assert fake.loaded == []


def test_ablation_runs_both_modes_resumes_and_compares(tmp_path, fake, capsys):
    """Video-only and audio-visual runs of the same clips, each resumable, with the ablation table and the paired
    test; the fake answers differ without audio on clips a and d."""
    fake.video_only_answers = {0: "<think>Her voice is cheerful.</think><answer>sad</answer>",
                               1: ANSWERS[1], 2: ANSWERS[2], 3: "fear"}
    m = make_manifest(tmp_path)
    out = tmp_path / "abl"
    fake.interrupt_at = 5  # during the second mode: the first is complete, the second resumes
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out), "--ablation"]) == 130
    assert not (out / "ablation.md").exists()
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out), "--ablation"]) == 0
    assert len(fake.seen) == 8  # 4 decodable clips per mode, none analysed twice
    assert [k["audio"] for k in fake.kwargs] == [True] * 4 + [False] * 4
    for mode in ("video_audio", "video"):
        settings = json.loads((out / mode / "results.jsonl").read_text().splitlines()[0])
        assert settings["modal"] == mode
    table = json.loads((out / "ablation.json").read_text())
    av, v = table["modes"]["video_audio"], table["modes"]["video"]
    assert av["metrics"]["war"] == pytest.approx(3 / 4) and v["metrics"]["war"] == pytest.approx(1 / 4)
    assert table["paired"]["mcnemar"] == {"n": 4, "both_right": 1, "a_only": 2, "b_only": 0, "both_wrong": 1,
                                          "method": "exact binomial", "statistic": None, "p_value": 0.5}
    assert v["consistency"]["voice_without_audio"] == 1 and av["consistency"]["voice_without_audio"] == 0
    assert av["bootstrap"]["resamples"] == 2000
    md = capsys.readouterr().out
    assert "| WAR | 75.00 [" in md and "| +50.00 [" in md and "McNemar p = 0.5 (exact binomial)" in md

    # the ablation folder compares as its two runs, with McNemar against the first
    assert main.main(["evaluate", "--compare", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["video_audio", "video"]
    assert "video_audio vs video: 4 clips scored in both; right only in video_audio: 2, only in video: 0; " \
           "McNemar p = 0.5 (exact binomial)" in text
    assert "UAR 95% CI" in text and "flag: voice_without_audio" in text
    # settings that differ from a mode's run are refused before the model loads
    n_loads = len(fake.loaded)
    assert main.main(["evaluate", str(m), "--model", "M", "--out", str(out), "--ablation", "--max-new-tokens",
                      "3"]) == 2
    assert len(fake.loaded) == n_loads
