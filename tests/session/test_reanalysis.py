"""Re-analysis of a recorded session into a new one, and the comparison of two runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.results import AnalysisResult, parse_response
from core.session import RecordOptions, SessionReader, SessionWriter, layout
from core.session.reanalysis import ReanalysisError, compare, reanalyze
from tests.session import synth


class BrightnessModel:
    """Answers from the frames it is shown: brighter than mid-grey is 'happy', else 'sad'; records calls."""

    model_dir = None

    def __init__(self):
        self.calls = []

    def analyze(self, frames, audio, instruction, *, max_new_tokens=256, label_set="dfew", scores=False):
        self.calls.append(
            {
                "frames": np.array(frames),
                "audio": audio,
                "instruction": instruction,
                "label_set": label_set,
                "max_new_tokens": max_new_tokens,
            }
        )
        label = "happy" if frames[..., 1].mean() > 120 else "sad"
        text = f"<think>brightness {frames[..., 1].mean():.0f}</think><answer>{label}</answer>"
        p = parse_response(text, ("happy", "sad", "neutral", "angry", "disgust", "surprise", "fear"))
        return AnalysisResult(
            (1,),
            text,
            p.think,
            p.answer,
            p.label,
            p.status,
            label_set,
            "video_audio" if audio is not None else "video",
            {"happy": 0.5, "sad": 0.5} if scores else None,
            {"total": 0.001},
        )


def recorded(tmp_path: Path, options: RecordOptions, n: int = 4) -> Path:
    d = tmp_path / "orig"
    w = SessionWriter(d, synth.manifest(), options)
    w.start()
    synth.feed(w, 0.0, n + 1.0)
    for i in range(n):  # original labels cycle happy, sad, neutral, angry
        w.write_result(synth.result(i, float(i), i + 2.0), synth.window(i, float(i), i + 2.0))
    w.add_marker("event", "clap", t=1.0)
    w.stop()
    return d


def test_reanalysis_from_kept_frames_feeds_the_same_frames_and_audio(tmp_path):
    orig = recorded(tmp_path, RecordOptions(frame_format="png"))
    model = BrightnessModel()
    rep = reanalyze(orig, model, instruction="Which emotion now?", out_dir=tmp_path / "re")
    assert rep.windows == 4 and rep.failed == () and rep.skipped == () and rep.windows_per_s > 0
    src = SessionReader(orig)
    for call, w in zip(model.calls, src.windows):
        np.testing.assert_array_equal(call["frames"], src.window_frames(w)[1])  # PNG: exactly what was seen
        assert call["frames"].shape[0] == 8
        np.testing.assert_allclose(call["audio"], synth.tone(w["t0"], 32000), atol=2e-4)
        assert call["instruction"] == "Which emotion now?" and call["label_set"] == "dfew"
        assert call["max_new_tokens"] == 24  # the original's generation setting
    new = SessionReader(tmp_path / "re")
    assert new.manifest.source_session == str(orig.resolve())
    assert new.manifest.source_session_id == src.manifest.session_id
    assert new.manifest.instruction == "Which emotion now?" and new.complete
    assert [(w["window_id"], w["t0"], w["t1"]) for w in new.windows] == [
        (w["window_id"], w["t0"], w["t1"]) for w in src.windows
    ]
    assert new.markers[0]["text"] == "clap"
    assert not (tmp_path / "re" / layout.VIDEO_DIR).exists()  # analysis only; the media stay in the original

    cmp = compare(orig, tmp_path / "re")
    expected = [w["window_id"] for w, n in zip(src.windows, new.windows) if w["label"] != n["label"]]
    assert [d.window_id for d in cmp.disagreements] == expected and expected
    assert cmp.common == 4 and cmp.agree == 4 - len(expected) and cmp.only_in_a == cmp.only_in_b == ()
    assert sum(cmp.confusion.values()) == 4


def test_reanalysis_from_recorded_video_when_no_frames_were_kept(tmp_path):
    orig = recorded(tmp_path, RecordOptions(window_frames=False, record_audio=False))
    model = BrightnessModel()
    rep = reanalyze(orig, model, label_set="ravdess", out_dir=tmp_path / "re")
    assert rep.windows == 4
    for call, _w in zip(model.calls, SessionReader(orig).windows):
        assert call["frames"].shape[0] == 30  # every recorded frame of the 2 s span; the model samples 8
        assert call["audio"] is None  # audio was not recorded: video only, and said so in the log
        assert call["label_set"] == "ravdess"
    new = SessionReader(tmp_path / "re")
    assert any("no audio" in e.get("message", "") for e in new.of_type("error"))
    assert all(w["audio_status"] == "missing" for w in new.windows)


def test_analysis_only_sessions_cannot_be_reanalysed_and_say_why(tmp_path):
    orig = recorded(tmp_path, RecordOptions.analysis_only())
    with pytest.raises(ReanalysisError, match="without video or window frames"):
        reanalyze(orig, BrightnessModel(), out_dir=tmp_path / "re")
    assert not (tmp_path / "re").exists()


def test_a_failing_window_is_logged_and_the_run_goes_on(tmp_path):
    orig = recorded(tmp_path, RecordOptions(record_video=False, record_audio=False))

    class Flaky(BrightnessModel):
        def analyze(self, frames, audio, instruction, **kw):
            if len(self.calls) == 1:
                self.calls.append(None)
                raise RuntimeError("out of memory")
            return super().analyze(frames, audio, instruction, **kw)

    stop_after = []
    rep = reanalyze(
        orig,
        Flaky(),
        out_dir=tmp_path / "re",
        on_progress=lambda done, total, r: stop_after.append(done),
        should_stop=lambda: len(stop_after) >= 3,
    )
    assert rep.failed == (1,) and rep.windows == 2 and rep.stopped_early
    new = SessionReader(tmp_path / "re")
    assert [w["window_id"] for w in new.windows] == [0, 2]
    assert "out of memory" in new.of_type("error")[-1]["message"]


@pytest.mark.slow
def test_reanalysis_with_the_parity_model(tmp_path):
    from core.model import load_model
    from tests.conftest import PARITY_DIR

    orig = recorded(tmp_path, RecordOptions(), n=2)
    model = load_model(PARITY_DIR / "checkpoint", device="cpu", dtype="float32")
    rep = reanalyze(orig, model, max_new_tokens=8, out_dir=tmp_path / "re")
    assert rep.windows == 2 and rep.failed == ()
    new = SessionReader(tmp_path / "re")
    assert new.manifest.model_dir == str((PARITY_DIR / "checkpoint").resolve()) and new.manifest.weights_hash
    for w in new.windows:
        assert len(w["token_ids"]) == 8 and w["modal"] == "video_audio" and w["timings"]["total"] > 0
    # the random tiny model never answers in the set: every window disagrees with the synthetic labels
    cmp = compare(orig, new)
    assert cmp.common == 2 and len(cmp.disagreements) == 2
    assert all(d.label_b is None and d.status_b != "ok" for d in cmp.disagreements)


def test_compare_from_the_command_line(tmp_path, capsys):
    import argparse

    from core.session import reanalysis

    orig = recorded(tmp_path, RecordOptions(record_video=False, record_audio=False))
    reanalyze(orig, BrightnessModel(), out_dir=tmp_path / "re")
    parser = argparse.ArgumentParser()
    reanalysis.configure(parser)
    assert reanalysis.run(parser.parse_args([str(orig), "--compare", str(tmp_path / "re")])) == 0
    out = capsys.readouterr().out
    cmp = compare(orig, tmp_path / "re")
    assert f"{cmp.common} windows in both, {cmp.agree} agree" in out
    assert out.count("->") == len(cmp.disagreements)
    assert reanalysis.run(parser.parse_args([str(tmp_path / "nope"), "--compare", str(orig)])) == 2
    assert "is not a session" in capsys.readouterr().err
