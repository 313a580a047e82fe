"""The benchmark's code path on the tiny fixture config (its numbers mean nothing; the bench is not a test)."""

from __future__ import annotations

import argparse

import pytest

pytest.importorskip("torch")


@pytest.mark.slow
def test_bench_runs_and_checks_fast_equals_naive(capsys, tmp_path):
    from bench import model_bench

    parser = argparse.ArgumentParser()
    model_bench.configure(parser)
    args = parser.parse_args(["--tiny", "--dtypes", "float32", "--tokens", "3", "--check-tokens", "3",
                              "--json", str(tmp_path / "r.json")])
    assert model_bench.run(args) == 0
    out = capsys.readouterr().out
    assert "same function (fp32)" in out and "PASS" in out and "whole window" in out
    assert "attribution (the 8 frames re-run video-only)" in out
    import json

    [result] = json.loads((tmp_path / "r.json").read_text())
    run = result["runs"][0]
    # no Whisper in a video-only run: its audio stage is a device sync, far below the window's encoder
    assert run["attribution"]["audio"] < run["fast"]["audio"] / 2 and run["attribution"]["total"] > 0
    assert run["attribution_share"] == run["attribution"]["total"] / run["fast"]["total"]
