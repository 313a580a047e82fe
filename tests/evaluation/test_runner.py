"""The runner with a fake decoder and model: records, decode failures, resume after a stop or Ctrl-C."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core import labels
from core.evaluation.log import ResultLog, read_log
from core.evaluation.runner import (
    MAX_CONSECUTIVE_MODEL_ERRORS,
    Job,
    RunOptions,
    run_jobs,
)
from core.evaluation.scoring import BARE_LABEL

from .fakes import FakeModel, FakeReader

SETTINGS = {"instruction": "q", "labels": "dfew", "max_new_tokens": 8, "modal": "video_audio", "model": "m"}
OPTS = RunOptions(instruction="q", label_set="dfew", labels=labels.DFEW, max_new_tokens=8)
ANSWERS = {
    0: "<think>smiles</think><answer>Happy</answer>",
    1: "<think>t</think><answer>sad</answer>",
    2: "angry",  # a bare label, as HumanOmni answers
    3: "xq zz garbage",
    4: "<think>t</think><answer>bored</answer>",
    5: "<think>t</think><answer>fearful</answer>",
}


def make_jobs(n=6):
    names = [f"c{i}.mp4" for i in range(n)]
    truths = ["happy", "sad", "angry", "happy", "sad", "fear"][:n]
    jobs = [Job(name, Path("/data") / name, t) for name, t in zip(names, truths)]
    return jobs, {nm: i for i, nm in enumerate(names)}


def run(tmp_path, model, reader, jobs, **kw):
    return run_jobs(jobs, model, OPTS, ResultLog(tmp_path / "r.jsonl"), SETTINGS, reader=reader,
                    progress_stream=io.StringIO(), **kw)


def test_every_clip_becomes_one_record_and_bad_files_are_skipped(tmp_path):
    jobs, ids = make_jobs()
    reader = FakeReader(ids, bad=("c4.mp4",))
    model = FakeModel(ANSWERS)
    s = run(tmp_path, model, reader, jobs)
    assert (s.total, s.resumed, s.analysed, s.decode_errors, s.model_errors) == (6, 0, 5, 1, 0)
    recs = s.records
    assert recs["c0.mp4"]["prediction"] == "happy" and recs["c0.mp4"]["think"] == "smiles"
    assert recs["c2.mp4"]["prediction"] == "angry" and recs["c2.mp4"]["parse_status"] == BARE_LABEL
    assert recs["c3.mp4"]["prediction"] is None and recs["c3.mp4"]["parse_status"] == "no_answer"
    assert recs["c5.mp4"]["prediction"] == "fear"
    assert recs["c4.mp4"]["status"] == "decode_error" and "cannot decode" in recs["c4.mp4"]["error"]
    assert recs["c1.mp4"]["text"] == ANSWERS[1] and recs["c1.mp4"]["truth"] == "sad"
    assert recs["c1.mp4"]["timings"]["generate_s"] == 0.01 and "decode_s" in recs["c1.mp4"]["timings"]
    assert model.kwargs[0] == {"max_new_tokens": 8, "label_set": "dfew", "audio": True, "instruction": "q"}
    _, on_disk, _ = read_log(tmp_path / "r.jsonl")
    assert on_disk == recs


def test_video_modal_sends_no_audio(tmp_path):
    jobs, ids = make_jobs(1)
    model = FakeModel(ANSWERS)
    opts = RunOptions(instruction="q", label_set="dfew", labels=labels.DFEW, modal="video")
    run_jobs(jobs, model, opts, ResultLog(tmp_path / "r.jsonl"), {**SETTINGS, "modal": "video"},
             reader=FakeReader(ids), progress_stream=io.StringIO())
    assert model.kwargs[0]["audio"] is False


def test_stop_then_resume_analyses_each_clip_once(tmp_path):
    jobs, ids = make_jobs()
    model = FakeModel(ANSWERS)
    calls = iter(range(100))
    s1 = run(tmp_path, model, FakeReader(ids), jobs, should_stop=lambda: next(calls) >= 2)
    assert s1.interrupted and s1.analysed == 2
    s2 = run(tmp_path, model, FakeReader(ids), jobs)
    assert s2.resumed == 2 and s2.analysed == 4
    assert sorted(model.seen) == list(range(6))  # nothing analysed twice
    assert len(s2.records) == 6


def test_keyboard_interrupt_mid_clip_leaves_a_resumable_log(tmp_path):
    jobs, ids = make_jobs()
    model = FakeModel(ANSWERS, interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, model, FakeReader(ids), jobs)
    _, recs, _ = read_log(tmp_path / "r.jsonl")
    assert sorted(recs) == ["c0.mp4", "c1.mp4", "c2.mp4"]
    s = run(tmp_path, model, FakeReader(ids), jobs)
    assert s.resumed == 3 and sorted(model.seen) == list(range(6))


def test_model_errors_are_recorded_and_retried_on_resume(tmp_path):
    jobs, ids = make_jobs()
    model = FakeModel(ANSWERS, fail=(1,))
    s = run(tmp_path, model, FakeReader(ids), jobs)
    assert s.model_errors == 1 and s.records["c1.mp4"]["status"] == "model_error"
    assert "boom 1" in s.records["c1.mp4"]["error"]
    model.fail = ()
    s = run(tmp_path, model, FakeReader(ids), jobs)
    assert s.resumed == 5 and s.records["c1.mp4"]["status"] == "ok"
    assert model.seen.count(1) == 2


def test_a_model_that_never_works_stops_the_run(tmp_path):
    jobs, ids = make_jobs()
    model = FakeModel(ANSWERS, fail=tuple(range(6)))
    with pytest.raises(RuntimeError, match=f"first {MAX_CONSECUTIVE_MODEL_ERRORS} clips"):
        run(tmp_path, model, FakeReader(ids), jobs)
    assert len(model.seen) == MAX_CONSECUTIVE_MODEL_ERRORS


def test_progress_reports_rate_and_eta_without_a_tty(tmp_path):
    jobs, ids = make_jobs()
    stream = io.StringIO()
    run_jobs(jobs, FakeModel(ANSWERS), OPTS, ResultLog(tmp_path / "r.jsonl"), SETTINGS,
             reader=FakeReader(ids, bad=("c4.mp4",)), progress_stream=stream, title="eval")
    last = stream.getvalue().strip().splitlines()[-1]
    assert last.startswith("eval 6/6 100%") and "clips/s" in last and "ETA 0s" in last and "1 failed" in last
    assert "\r" not in stream.getvalue()


def test_duplicate_keys_are_refused(tmp_path):
    jobs, ids = make_jobs(2)
    with pytest.raises(ValueError, match="share a key"):
        run(tmp_path, FakeModel(ANSWERS), FakeReader(ids), [jobs[0], jobs[0]])


def _batched(size: int, **kw) -> RunOptions:
    return RunOptions(instruction="q", label_set="dfew", labels=labels.DFEW, max_new_tokens=8, batch_size=size, **kw)


def test_batches_give_the_records_of_one_by_one(tmp_path):
    jobs, ids = make_jobs()
    single = run(tmp_path / "one", FakeModel(ANSWERS), FakeReader(ids, bad=("c4.mp4",)), jobs)
    model = FakeModel(ANSWERS)
    s = run_jobs(jobs, model, _batched(2), ResultLog(tmp_path / "r.jsonl"), SETTINGS,
                 reader=FakeReader(ids, bad=("c4.mp4",), silent=("c2.mp4",)), progress_stream=io.StringIO())
    # groups of two decoded clips; c4 does not decode, c2 has no sound and gets a batch of its own
    assert model.batches == [[(0, True), (1, True)], [(3, True)], [(2, False)], [(5, True)]]
    assert (s.analysed, s.decode_errors, s.model_errors) == (5, 1, 0)
    keep = ("status", "prediction", "parse_status", "text")
    assert {k: {f: r[f] for f in keep} for k, r in s.records.items()} == \
        {k: {f: r[f] for f in keep} for k, r in single.records.items()}
    assert s.records["c2.mp4"]["has_audio"] is False
    assert model.kwargs[0] == {"max_new_tokens": 8, "label_set": "dfew", "audio": True, "instruction": "q"}


def test_a_failing_batch_falls_back_to_one_by_one_and_says_so_once(tmp_path, caplog):
    jobs, ids = make_jobs()
    model = FakeModel(ANSWERS, batch_fails=True)
    stream = io.StringIO()
    s = run_jobs(jobs, model, _batched(3), ResultLog(tmp_path / "r.jsonl"), SETTINGS, reader=FakeReader(ids),
                 progress_stream=stream)
    assert len(model.batches) == 2 and sorted(model.seen) == list(range(6))
    assert all(r["status"] == "ok" for r in s.records.values())
    assert stream.getvalue().count("batched analysis failed (RuntimeError: CUDA out of memory)") == 1


def test_batch_options_are_checked():
    with pytest.raises(ValueError, match="batch size 0"):
        _batched(0)
    with pytest.raises(ValueError, match="--batch-size 1"):
        _batched(2, scores=True)
