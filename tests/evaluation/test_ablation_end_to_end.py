"""The ablation with the tiny parity model on real video files: the video-only mode really runs without audio
(the official video-only path: its records say so and the model never got audio), both runs resume, and the
table agrees with the two runs' records."""

from __future__ import annotations

import json

import pytest

import main
from core.evaluation import runner
from tests.evaluation.test_end_to_end import CHECKPOINT, MAX_NEW_TOKENS, clip


@pytest.fixture(scope="module")
def tiny_model():
    pytest.importorskip("torch")
    from core.model import load_model

    model = load_model(CHECKPOINT, device="cpu", dtype="float32")
    yield model
    model.close()


@pytest.mark.slow
def test_ablation_with_the_parity_model(tmp_path, tiny_model, monkeypatch, capsys):
    calls = []

    class Spy:
        def analyze(self, frames, audio, instruction, **kw):
            calls.append(audio is None)
            return tiny_model.analyze(frames, audio, instruction, **kw)

    monkeypatch.setattr(runner, "load_analyzer", lambda *a, **k: Spy())
    data = tmp_path / "data"
    for i, name in enumerate(("a", "b", "c")):
        clip(data / f"{name}.mp4", i)
    (data / "set.csv").write_text("path,label\na.mp4,happy\nb.mp4,sad\nc.mp4,sad\n")
    out = tmp_path / "abl"
    args = ["evaluate", str(data / "set.csv"), "--model", str(CHECKPOINT), "--out", str(out), "--ablation",
            "--max-new-tokens", MAX_NEW_TOKENS]
    assert main.main(args) == 0
    assert calls == [False] * 3 + [True] * 3  # audio-visual first, then video-only
    records = {m: [json.loads(x) for x in (out / m / "results.jsonl").read_text().splitlines()[1:]]
               for m in ("video_audio", "video")}
    assert {r["modal"] for r in records["video"]} == {"video"} and not any(r["has_audio"] for r in records["video"])
    assert {r["modal"] for r in records["video_audio"]} == {"video_audio"}
    table = json.loads((out / "ablation.json").read_text())
    for mode, recs in records.items():
        right = sum(r["prediction"] == r["truth"] for r in recs)
        assert table["modes"][mode]["metrics"]["war"] == pytest.approx(right / 3)
    assert table["paired"]["clips"] == 3 and table["paired"]["mcnemar"]["n"] == 3
    capsys.readouterr()
    assert main.main(args) == 0  # resumed: nothing analysed again
    assert len(calls) == 6
    assert "# Modality ablation" in capsys.readouterr().out
