"""The evaluation benchmark's code path on the tiny config, one by one and batched (its numbers mean nothing;
the bench is not a test)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")


@pytest.mark.slow
def test_eval_bench_compares_batch_one_with_batch_n(capsys, tmp_path):
    from bench import eval_bench

    out = tmp_path / "r.json"
    assert eval_bench.main(["--tiny", "--clips", "3", "--tokens", "4", "--batch-size", "2", "--threads", "2",
                            "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 clips x 4 new tokens" in text and "batch 2: " in text and "vs batch 1: " in text
    runs = json.loads(out.read_text())["runs"]
    assert [r["batch_size"] for r in runs] == [1, 2]
    assert all(r["clips"] == 3 and r["clips_per_s"] > 0 for r in runs)
