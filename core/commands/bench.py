"""Full-size model benchmark with random weights (no download): per-stage times, whole window, fast vs naive.

    python main.py bench [--quick] [--device cpu|cuda|auto] [--dtypes float32,bfloat16] [--tokens 64,128]

The benchmark itself lives in bench/model_bench.py (also runnable as a script).
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from bench.model_bench import configure as _configure

    _configure(parser)


def run(args: argparse.Namespace) -> int:
    from bench.model_bench import run as _run

    return _run(args)
