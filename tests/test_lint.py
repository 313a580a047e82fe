"""ruff, with the rules in pyproject.toml ([tool.ruff]), finds nothing in the repository (the house style: lint,
import order, line length 120)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ruff", reason="ruff is not installed: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
RUFF_TIMEOUT_S = 120  # the whole tree takes well under a second


def test_the_repository_passes_ruff():
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT, capture_output=True, text=True, timeout=RUFF_TIMEOUT_S,
    )
    assert run.returncode == 0, f"ruff check . (settings: pyproject.toml [tool.ruff]):\n{run.stdout}{run.stderr}"
    assert "All checks passed" in run.stdout, run.stdout
