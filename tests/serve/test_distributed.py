"""``evaluate --ray``: clips spread over Ray workers give the records and metrics of a local run; a driver
killed hard resumes with every clip exactly once; a worker that dies loses only its clips in flight."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import main
from core.evaluation.distributed import ClusterOptions, run_jobs_on_ray
from core.evaluation.log import ResultLog, read_log
from core.evaluation.runner import Job, RunOptions
from tests.conftest import ROOT
from tests.evaluation.test_end_to_end import clip
from tests.serve.helpers import CHECKPOINT, INSTRUCTION, DyingWorker

pytestmark = pytest.mark.slow
N_CLIPS = 6
TRUTHS = ["happy", "sad", "angry", "neutral", "fear", "surprise"]
RUN_ARGS = ["--max-new-tokens", "12", "--device", "cpu", "--dtype", "float32"]
SAME_IN_EVERY_RUN = ("key", "status", "prediction", "parse_status", "answer", "text", "truth", "modal")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    for i in range(N_CLIPS):
        clip(d / f"c{i:02d}.mp4", i)
    (d / "set.csv").write_text("path,label\n" + "".join(f"c{i:02d}.mp4,{TRUTHS[i]}\n" for i in range(N_CLIPS)))
    return d / "set.csv"


@pytest.fixture(scope="module")
def local_run(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "run"
    assert main.main(["evaluate", str(dataset), "--model", str(CHECKPOINT), "--out", str(out), *RUN_ARGS]) == 0
    return out


def clips_of(run: Path) -> dict[str, dict]:
    return {k: {f: r.get(f) for f in SAME_IN_EVERY_RUN} for k, r in read_log(run / "results.jsonl")[1].items()}


def metrics_of(run: Path) -> dict:
    summary = json.loads((run / "metrics.json").read_text())
    return {"metrics": summary["metrics"], "clips": summary["clips"], "parse_status": summary["parse_status"]}


def clip_keys_in_order(run: Path) -> list[str]:
    return [json.loads(x)["key"] for x in (run / "results.jsonl").read_text().splitlines() if '"record": "clip"' in x]


def test_evaluate_on_ray_with_two_workers_gives_the_metrics_of_a_local_run(ray_instance, dataset, local_run,
                                                                         tmp_path, capsys):
    out = tmp_path / "ray-run"
    code = main.main(["evaluate", str(dataset), "--model", str(CHECKPOINT), "--out", str(out), *RUN_ARGS,
                      "--ray", "--workers", "2"])
    assert code == 0, capsys.readouterr().err
    assert clips_of(out) == clips_of(local_run) and len(clips_of(out)) == N_CLIPS
    assert metrics_of(out) == metrics_of(local_run)
    assert sorted(clip_keys_in_order(out)) == sorted(clips_of(local_run))  # each clip once


def test_a_driver_killed_hard_resumes_with_every_clip_exactly_once(ray_instance, dataset, local_run, tmp_path):
    out = tmp_path / "ray-run"
    log = out / "results.jsonl"
    args = [sys.executable, str(ROOT / "main.py"), "evaluate", str(dataset), "--model", str(CHECKPOINT), "--out",
            str(out), *RUN_ARGS, "--ray", ray_instance, "--workers", "2"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (log.exists() and len(read_log(log)[1]) >= 2):
        assert proc.poll() is None, f"the run ended before 2 clips: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    done = len(read_log(log)[1])
    assert 2 <= done < N_CLIPS, "killed after the run had finished: nothing to resume"

    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{done} resumed" in proc.stderr
    keys = clip_keys_in_order(out)
    assert sorted(keys) == sorted(clips_of(local_run)) and len(keys) == len(set(keys))  # every clip exactly once
    assert clips_of(out) == clips_of(local_run)
    assert metrics_of(out) == metrics_of(local_run)


def test_a_worker_that_dies_loses_only_its_clips_in_flight(ray_instance, dataset, local_run, tmp_path):
    from core.evaluation.dataset import load_dataset

    ds = load_dataset(str(dataset), None)
    jobs = [Job(c.key, c.path, c.label) for c in ds.clips]
    opts = RunOptions(instruction=INSTRUCTION, label_set="dfew", labels=ds.labels, max_new_tokens=12)
    result_log = ResultLog(tmp_path / "results.jsonl")
    summary = run_jobs_on_ray(jobs, str(CHECKPOINT), "cpu", "float32", opts, result_log, {"model": "x"},
                              ClusterOptions(workers=2), progress_stream=io.StringIO(), worker_class=DyingWorker)
    assert (dataset.parent / ".died").exists()  # a worker did die, with c03 in flight
    assert summary.analysed == N_CLIPS and summary.model_errors == 0 and summary.decode_errors == 0
    _, records, _ = read_log(tmp_path / "results.jsonl")
    assert sorted(records) == sorted(clips_of(local_run))
    assert all(r["status"] == "ok" for r in records.values())
    keys = [json.loads(x)["key"] for x in (tmp_path / "results.jsonl").read_text().splitlines()[1:]]
    assert len(keys) == len(set(keys)) == N_CLIPS
