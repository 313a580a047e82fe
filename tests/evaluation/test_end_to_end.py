"""Acceptance: synthetic labelled clips in every supported layout, evaluated with the tiny parity model.

The parity model is random, so its answers are gibberish (UAR ~0, nearly all unparsed). What is
checked is the mechanics: every clip in every layout reaches the model once, undecodable files are
skipped, a killed run resumes without re-analysing anything, and the report files agree with the
JSONL records.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import main
from core.evaluation import runner
from core.evaluation.log import read_log
from core.evaluation.metrics import UNPARSED_COLUMN
from tests.conftest import PARITY_DIR, ROOT
from tests.support.media import make_corrupt, make_video, tone

CHECKPOINT = PARITY_DIR / "checkpoint"
MAX_NEW_TOKENS = "6"
CLIP_S, CLIP_FPS, CLIP_SIZE = 1.0, 8, (64, 48)


def clip(path: Path, i: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_video(path, seconds=CLIP_S, fps=CLIP_FPS, size=CLIP_SIZE,
                      audio=tone(CLIP_S, freq_hz=300 + 50 * i, rate_hz=16_000), audio_rate_hz=16_000,
                      audio_channels=1)


def build_layouts(root: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """Each layout → (dataset path, expected {key: label})."""
    out: dict[str, tuple[Path, dict[str, str]]] = {}

    d = root / "manifest"
    clip(d / "v" / "a.mp4", 0)
    clip(d / "v" / "b.mp4", 1)
    make_corrupt(d / "v" / "broken.mp4")
    (d / "set.csv").write_text("path,label\nv/a.mp4,Happy\nv/b.mp4,fearful\nv/broken.mp4,sad\n")
    out["manifest"] = d / "set.csv", {"v/a.mp4": "happy", "v/b.mp4": "fear", "v/broken.mp4": "sad"}

    # one real clip per native layout keeps the test fast; the layout rules are covered in test_dataset
    d = root / "folders"
    clip(d / "Angry" / "x.mp4", 2)
    out["folders"] = d, {"Angry/x.mp4": "angry"}

    d = root / "ravdess"
    clip(d / "Actor_02" / "01-01-08-02-01-01-02.mp4", 5)
    out["ravdess"] = d, {"Actor_02/01-01-08-02-01-01-02.mp4": "surprise"}

    d = root / "dfew"
    clip(d / "Clip" / "original" / "00007.mp4", 6)
    split = d / "EmoLabel_DataSplit" / "test(single-labeled)"
    split.mkdir(parents=True)
    (split / "set_1.csv").write_text("video_name,label\n7,6\n")
    out["dfew"] = d, {"Clip/original/00007.mp4": "disgust"}

    d = root / "mafw"
    clip(d / "data" / "clips" / "00012.mp4", 9)
    split = d / "Train & Test Set" / "single" / "no_caption" / "set_1"
    split.mkdir(parents=True)
    (split / "test.txt").write_text("00012.mp4 contempt\n")
    out["mafw"] = d, {"data/clips/00012.mp4": "contemptuous"}
    return out


@pytest.fixture(scope="module")
def parity_model():
    from core.model import load_model

    return load_model(str(CHECKPOINT), device="cpu", dtype="float32")


def check_report(out: Path, expected: dict[str, str]) -> dict:
    """The report files must agree with results.jsonl (an independent recount)."""
    settings, records, _ = read_log(out / "results.jsonl")
    assert settings is not None and set(records) == set(expected)
    assert {k: r["truth"] for k, r in records.items()} == expected
    ok = [r for r in records.values() if r["status"] == "ok"]
    for r in ok:
        assert isinstance(r["text"], str) and r["timings"]["total_s"] > 0
        assert r["n_frames"] == CLIP_S * CLIP_FPS
    data = json.loads((out / "metrics.json").read_text())
    m = data["metrics"]
    assert m["n"] == len(ok)
    assert m["n_unparsed"] == sum(r["prediction"] is None for r in ok)
    clips = data["clips"]
    assert clips["scored"] + clips["decode_errors"] + clips["model_errors"] == len(expected)
    correct = sum(r["prediction"] == r["truth"] for r in ok)
    assert m["war"] == pytest.approx(correct / len(ok))
    rows = list(csv.reader((out / "confusion.csv").read_text().splitlines()))
    assert rows[0][-1] == UNPARSED_COLUMN
    counts = np.array([[int(x) for x in row[1:]] for row in rows[1:]])
    assert counts.sum() == len(ok)
    assert counts[:, -1].sum() == m["n_unparsed"]
    truth_counts = {row[0]: sum(int(x) for x in row[1:]) for row in rows[1:]}
    for lab, n in truth_counts.items():
        assert n == sum(r["truth"] == lab for r in ok)
    for f in ("per_class.md", "per_class.csv", "confusion.png"):
        assert (out / f).stat().st_size > 0
    return data


@pytest.mark.slow
def test_every_layout_evaluates_with_the_parity_model(tmp_path, parity_model, monkeypatch, capsys):
    monkeypatch.setattr(runner, "load_analyzer", lambda *a, **k: parity_model)
    for layout, (dataset, expected) in build_layouts(tmp_path / "data").items():
        out = tmp_path / "runs" / layout
        code = main.main(["evaluate", str(dataset), "--model", str(CHECKPOINT), "--out", str(out),
                          "--max-new-tokens", MAX_NEW_TOKENS])
        assert code == 0, layout
        data = check_report(out, expected)
        assert data["dataset"]["layout"] == layout
        if layout == "manifest":
            assert data["clips"]["decode_errors"] == 1
            assert data["clips"]["failed"][0]["key"] == "v/broken.mp4"
        if layout == "mafw":
            assert len(data["metrics"]["labels"]) == 11
    capsys.readouterr()
    runs = [str(tmp_path / "runs" / x) for x in ("dfew", "mafw")]
    assert main.main(["evaluate", "--compare", *runs]) == 0
    assert "recall contemptuous %" in capsys.readouterr().out

    # the same machinery without labels: python main.py analyze FOLDER
    folder = tmp_path / "data" / "manifest" / "v"
    out = tmp_path / "batch.jsonl"
    assert main.main(["analyze", str(folder), "--model", str(CHECKPOINT), "--out", str(out),
                      "--max-new-tokens", MAX_NEW_TOKENS]) == 0
    settings, records, _ = read_log(out)
    assert {k: r["status"] for k, r in records.items()} == {
        "a.mp4": "ok", "b.mp4": "ok", "broken.mp4": "decode_error"}
    assert all(r["truth"] is None for r in records.values())
    assert "clips/s" in capsys.readouterr().err


def _clip_lines(path: Path) -> int:
    """Complete clip records in the log (a line being written is not counted)."""
    return len(read_log(path)[1]) if path.exists() else 0


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _interrupt_after(proc: subprocess.Popen, log: Path, n: int, sig: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while _clip_lines(log) < n:
        assert proc.poll() is None, f"run ended before {n} clips: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.communicate(timeout=60)


@pytest.mark.slow
def test_killed_run_resumes_without_repeating_clips(tmp_path):
    """A real process killed hard (SIGKILL, no clean-up) mid-run, then the same command run to the end."""
    n = 8
    truths = [["happy", "sad", "angry", "neutral"][i % 4] for i in range(n)]
    d = tmp_path / "data"
    for i in range(n):
        clip(d / f"c{i:02d}.mp4", i)
    (d / "set.csv").write_text("path,label\n" + "".join(f"c{i:02d}.mp4,{t}\n" for i, t in enumerate(truths)))
    out = tmp_path / "run"
    log = out / "results.jsonl"
    args = ["evaluate", str(d / "set.csv"), "--model", str(CHECKPOINT), "--out", str(out),
            "--max-new-tokens", "12", "--device", "cpu", "--dtype", "float32"]

    p = _start(args)
    _interrupt_after(p, log, 2, signal.SIGKILL)
    assert p.returncode == -signal.SIGKILL
    done = _clip_lines(log)
    assert 2 <= done < n
    assert not (out / "metrics.json").exists()  # killed before any report: only the log survives

    p = _start(args)
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0, stderr
    assert f"{done} resumed" in stderr and "clips/s" in stderr
    assert "UAR" in stdout
    keys = [json.loads(x)["key"] for x in log.read_text().splitlines() if '"record": "clip"' in x]
    assert sorted(keys) == [f"c{i:02d}.mp4" for i in range(n)]  # each clip exactly once
    check_report(out, {f"c{i:02d}.mp4": t for i, t in enumerate(truths)})


class _TokenRecorder:
    """The parity model, noting the token ids it generates per clip (keyed by the clip's samples)."""

    def __init__(self, model) -> None:
        self.model, self.tokens, self.batch_calls = model, {}, 0

    @staticmethod
    def _key(frames, audio) -> tuple[bytes, bytes]:
        return frames.tobytes(), b"" if audio is None else audio.tobytes()

    def analyze(self, frames, audio, instruction, **kwargs):
        result = self.model.analyze(frames, audio, instruction, **kwargs)
        self.tokens[self._key(frames, audio)] = result.token_ids
        return result

    def analyze_batch(self, clips, instruction, **kwargs):
        self.batch_calls += 1
        results = self.model.analyze_batch(clips, instruction, **kwargs)
        for (frames, audio), result in zip(clips, results):
            self.tokens[self._key(frames, audio)] = result.token_ids
        return results


@pytest.mark.slow
def test_batch_size_two_gives_the_results_of_one_by_one(tmp_path, parity_model, monkeypatch):
    """``evaluate --batch-size 2`` on clips with sound, one without and one that cannot be decoded: the same
    token ids per clip and the same records as the default one-by-one run; folder ``analyze`` takes the flag."""
    d = tmp_path / "data"
    for i in range(3):
        clip(d / f"c{i}.mp4", i)
    make_video(d / "silent.mp4", seconds=CLIP_S, fps=CLIP_FPS, size=CLIP_SIZE, audio=None)
    make_corrupt(d / "broken.mp4")
    names = ["c0.mp4", "broken.mp4", "c1.mp4", "silent.mp4", "c2.mp4"]
    (d / "set.csv").write_text("path,label\n" + "".join(f"{n},happy\n" for n in names))
    runs = {}
    for size in (1, 2):
        recorder = _TokenRecorder(parity_model)
        monkeypatch.setattr(runner, "load_analyzer", lambda *a, recorder=recorder, **k: recorder)
        out = tmp_path / f"run{size}"
        assert main.main(["evaluate", str(d / "set.csv"), "--model", str(CHECKPOINT), "--out", str(out),
                          "--max-new-tokens", MAX_NEW_TOKENS, "--batch-size", str(size)]) == 0
        runs[size] = recorder, read_log(out / "results.jsonl")[1]
    (one, recs1), (two, recs2) = runs[1], runs[2]
    assert one.batch_calls == 0 and two.batch_calls >= 2
    assert len(one.tokens) == 4 and two.tokens == one.tokens
    keep = ("status", "prediction", "parse_status", "text", "has_audio", "modal")
    assert {k: [r.get(f) for f in keep] for k, r in recs2.items()} == \
        {k: [r.get(f) for f in keep] for k, r in recs1.items()}
    assert recs2["broken.mp4"]["status"] == "decode_error" and recs2["silent.mp4"]["modal"] == "video"
    assert all(recs2[n]["timings"]["batch_size"] == 2 for n in ("c0.mp4", "c1.mp4"))

    out = tmp_path / "folder.jsonl"
    recorder = _TokenRecorder(parity_model)
    monkeypatch.setattr(runner, "load_analyzer", lambda *a, **k: recorder)
    assert main.main(["analyze", str(d), "--model", str(CHECKPOINT), "--out", str(out),
                      "--max-new-tokens", MAX_NEW_TOKENS, "--batch-size", "3", "--instruct", "evaluation"]) == 0
    assert recorder.batch_calls >= 1 and recorder.tokens == one.tokens
