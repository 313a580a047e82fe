"""Full-size model benchmark with random weights (no download): exact float32, exact bfloat16 and the fast
profile in one run — per stage, first token, tokens/s, peak memory, the ratios, and how far fast moves from exact.

    python main.py bench [--quick] [--device cpu|cuda|auto] [--configs exact:float32,exact:bfloat16,fast:auto]
                         [--tokens 64] [--repeats 2] [--naive] [--model-dir DIR] [--json FILE]

The benchmark lives in the shipped package (core.bench.model_bench), so it runs from an installed wheel.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from core.bench.model_bench import configure as _configure

    _configure(parser)


def run(args: argparse.Namespace) -> int:
    from core.bench.model_bench import run as _run

    return _run(args)
