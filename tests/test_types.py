"""The type check of the test command (issue 11): mypy, with the settings in pyproject.toml ([tool.mypy]), finds
nothing in core/, and it checks every module there.

mypy keeps a cache (.mypy_cache at the repository root): a first run takes about a minute on two cores, later
runs a few seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_core_passes_mypy(monkeypatch):
    monkeypatch.chdir(ROOT)  # the configured files (core) and the cache folder are relative to the root
    stdout, stderr, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml")])
    report = f"mypy over core/ (settings: pyproject.toml [tool.mypy]):\n{stdout}{stderr}"
    assert status == 0, report
    checked = re.search(r"no issues found in (\d+) source files", stdout)
    modules = len(list((ROOT / "core").rglob("*.py")))
    assert checked is not None and int(checked.group(1)) == modules, f"not every module of core/ was checked\n{report}"
