"""The benchmark's code path on toy sizes (its numbers mean nothing; the bench is not a test): every
configuration in its own process, the report with ratios and the fast profile's numerical distance, and the
float32 check that the app's path computes what a naive composition of the same weights computes."""

from __future__ import annotations

import argparse
import json

import pytest

pytest.importorskip("torch")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_runs_every_configuration_and_checks_fast_equals_naive(capsys, tmp_path):
    from core.bench import model_bench

    parser = argparse.ArgumentParser()
    model_bench.configure(parser)
    args = parser.parse_args(["--tiny", "--tokens", "3", "--repeats", "1", "--naive", "--check-tokens", "3",
                              "--model-dir", str(tmp_path / "model"), "--json", str(tmp_path / "r.json")])
    assert model_bench.run(args) == 0
    out = capsys.readouterr().out
    assert "TINY toy sizes" in out and "first token s" in out and "decode tok/s" in out
    assert "exact bfloat16 vs exact float32" in out and "fast vs exact bfloat16" in out
    assert "same function (float32)" in out and "PASS" in out
    assert "int8 decoding alone" in out and "Not an accuracy figure" in out
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [(r["profile"], r["dtype"]) for r in results] == [("exact", "float32"), ("exact", "bfloat16"),
                                                             ("fast", "bfloat16")]
    fast = results[2]
    assert fast["positions"] < results[1]["positions"]  # fewer audio tokens
    assert fast["distance"]["steps"] == 3 and 0 <= fast["distance"]["profile"]["top1_agree"] <= 3
    assert all(r["peak_rss_gib"] >= r["load_peak_rss_gib"] > 0 for r in results)
    # what an attribution (the window's frames re-run video-only) costs: no Whisper, a share of the window
    assert "attribution s" in out and "share of window" in out
    for r in results:
        assert r["attribution"]["total"] > 0 and r["attribution_share"] == r["attribution"]["total"] / \
            r["best"]["timings"]["total"]
    assert (tmp_path / "model" / "random-weights.json").is_file()  # kept with --model-dir, reused next time


def test_configuration_names():
    from core.bench.model_bench import Config

    assert Config.parse("fast:auto") == Config("fast", "auto")
    with pytest.raises(ValueError, match="PROFILE:DTYPE"):
        Config.parse("quick:float32")


def test_the_shipped_package_needs_nothing_outside_it():
    """``main.py bench`` runs from an installed wheel: nothing under core/ imports the top-level bench/ or tests/
    packages or reads the test fixtures (checked by a wheel build and an installed run when the bench moved)."""
    import ast
    from pathlib import Path

    import core

    offenders = []
    for path in Path(core.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path}: imports {n}" for n in names if n.split(".")[0] in ("bench", "tests")]
        if "fixtures/parity" in path.read_text(encoding="utf-8"):
            offenders.append(f"{path}: reads the test fixtures")
    assert offenders == []
