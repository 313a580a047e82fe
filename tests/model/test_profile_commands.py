"""The profile on the command line: evaluate keeps runs of different profiles apart and compares them side by
side; analyze and every per-clip record name the profile."""

from __future__ import annotations

import json

import pytest

import main
from core.evaluation import runner
from tests.conftest import PARITY_DIR
from tests.evaluation.fakes import FakeModel, FakeReader

ANSWERS = {0: "<think>t</think><answer>happy</answer>", 1: "<answer>sad</answer>"}


class _ProfiledFake(FakeModel):
    """The evaluation fake, answering with the profile it was loaded with (as the real model does)."""

    profile = "exact"

    def analyze(self, frames, audio, instruction, **kwargs):
        import dataclasses

        return dataclasses.replace(super().analyze(frames, audio, instruction, **kwargs), profile=self.profile)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    model = _ProfiledFake(ANSWERS)
    model.loads = []

    def load(path, device="auto", dtype="auto", profile="exact"):
        model.loads.append(profile)
        model.profile = profile
        return model

    monkeypatch.setattr(runner, "load_analyzer", load)
    monkeypatch.setattr(runner, "_default_reader", lambda count, side_px: FakeReader({"a.mp4": 0, "b.mp4": 1}))
    for n in ("a", "b"):
        (tmp_path / f"{n}.mp4").write_bytes(b"")
    (tmp_path / "set.csv").write_text("path,label\na.mp4,happy\nb.mp4,sad\n")
    return model


def test_evaluate_fast_refuses_to_resume_an_exact_run_and_back(tmp_path, fake, capsys):
    manifest = str(tmp_path / "set.csv")
    exact, fast = tmp_path / "exact", tmp_path / "fast"
    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(exact), "--limit", "1"]) == 0
    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(exact), "--profile", "fast"]) == 2
    err = capsys.readouterr().err
    assert "different profile" in err and "'exact' there, 'fast' now" in err
    assert fake.loads == ["exact"]  # refused before loading the model

    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(fast), "--profile", "fast",
                      "--limit", "1"]) == 0
    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(fast)]) == 2
    assert "'fast' there, 'exact' now" in capsys.readouterr().err
    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(fast), "--profile", "fast"]) == 0
    assert fake.loads == ["exact", "fast", "fast"]
    records = [json.loads(x) for x in (fast / "results.jsonl").read_text().splitlines()]
    assert records[0]["record"] == "run" and records[0]["profile"] == "fast"
    assert [r["profile"] for r in records[1:]] == ["fast", "fast"]  # resumed: a.mp4 once, then b.mp4
    assert json.loads((fast / "metrics.json").read_text())["settings"]["profile"] == "fast"

    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(exact)]) == 0
    capsys.readouterr()
    assert main.main(["evaluate", "--compare", str(exact), str(fast)]) == 0
    table = capsys.readouterr().out
    profile_row = next(line for line in table.splitlines() if line.startswith("profile"))
    assert profile_row.split()[1:] == ["exact", "fast"]


def test_a_log_written_before_profiles_existed_resumes_as_exact(tmp_path, fake):
    manifest = str(tmp_path / "set.csv")
    out = tmp_path / "old"
    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(out), "--limit", "1"]) == 0
    log = out / "results.jsonl"
    lines = log.read_text().splitlines()
    run = json.loads(lines[0])
    del run["profile"]
    log.write_text("\n".join([json.dumps(run), *lines[1:]]) + "\n")
    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(out), "--profile", "fast"]) == 2
    assert main.main(["evaluate", manifest, "--model", "M", "--out", str(out)]) == 0


@pytest.mark.slow
def test_analyze_fast_names_the_profile(capsys):
    pytest.importorskip("torch")
    clip = PARITY_DIR / "clips" / "clip_a.mp4"
    rc = main.main(["analyze", str(clip), "--model", str(PARITY_DIR / "checkpoint"), "--max-new-tokens", "6",
                    "--json", "--device", "cpu", "--dtype", "float32", "--profile", "fast"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    record = json.loads(out.out.strip().splitlines()[-1])
    assert record["profile"] == "fast" and record["precision"] == "float32: requested"
    assert 0 < record["timings"]["first_token"] <= record["timings"]["total"]
    rc = main.main(["analyze", str(clip), "--model", "m", "--profile", "turbo"])  # a usage error: status 2
    assert rc == 2 and "invalid choice: 'turbo'" in capsys.readouterr().err
