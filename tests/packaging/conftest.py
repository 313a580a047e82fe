"""The release build, made once per test session (``packaging/build_app.py --if-stale``: skipped when
``dist/`` already holds a build of these sources and packages), and the helpers to run what it made."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUILD_TIMEOUT_S = 1800  # a cold build takes a few minutes on 2 cores; this only stops a hung one
BUILD_LOG = ROOT / "build" / "test-build.log"
RUN_TIMEOUT_S = 300
_report: list[str] = []  # the build's own summary (sizes, times), repeated at the end of the test session


@dataclass(frozen=True)
class Build:
    info: dict  # dist/build-info.json

    def path(self, key: str) -> Path:
        return ROOT / self.info[key]

    @property
    def binary(self) -> Path:
        return self.path("binary")


def packaging_module(name: str):
    """A module from packaging/ by file (the folder is no Python package: its name would shadow PyPI's)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "packaging" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def frozen_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a frozen run: offline hub, settings in ``tmp``, no Python variables from this venv."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HF_", "MODELSCOPE_", "R1OMNI_"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", R1OMNI_LIVE_CONFIG_DIR=str(tmp / "config"))
    env.update(extra)
    return env


def run(command: list, tmp: Path, timeout: float = RUN_TIMEOUT_S, **env: str) -> subprocess.CompletedProcess:
    """Run a command with ``frozen_env`` in ``tmp``; output captured as text."""
    return subprocess.run([str(c) for c in command], cwd=tmp, env=frozen_env(tmp, **env), capture_output=True,
                          text=True, timeout=timeout, check=False)


def _unavailable() -> list[str]:
    missing = [f"{tool} (apt-get install {pkg})" for tool, pkg in
               (("objdump", "binutils"), ("dpkg-deb", "dpkg"), ("ldconfig", "libc-bin")) if shutil.which(tool) is None]
    if importlib.util.find_spec("PyInstaller") is None:
        missing.append("PyInstaller (pip install -e '.[build]', which bash packaging/run.sh test does)")
    return missing


@pytest.fixture(scope="session")
def frozen_build() -> Build:
    missing = _unavailable()
    if missing:
        message = "cannot build the frozen app: missing " + ", ".join(missing)
        if os.environ.get("CI"):  # CI installs all of it: a missing tool there is a set-up bug, not a skip
            pytest.fail(message)
        pytest.skip(message)
    BUILD_LOG.parent.mkdir(exist_ok=True)
    with BUILD_LOG.open("w", encoding="utf-8") as log:
        proc = subprocess.run([sys.executable, str(ROOT / "packaging" / "build_app.py"), "--if-stale"], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S, check=False)
    output = BUILD_LOG.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        pytest.fail(f"the build failed (log: {BUILD_LOG}):\n{output[-4000:]}")
    _report.extend(line for line in output.splitlines() if line.startswith("[build]") and not line.endswith("..."))
    return Build(json.loads((ROOT / "dist" / "build-info.json").read_text(encoding="utf-8")))


def pytest_terminal_summary(terminalreporter) -> None:
    if _report:
        terminalreporter.section("frozen app build")
        for line in _report:
            terminalreporter.write_line(line)
