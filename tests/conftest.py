"""Shared test set-up: headless Qt, offline hub, and the parity fixture location."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARITY_DIR = ROOT / "tests" / "fixtures" / "parity"


@pytest.fixture(scope="session")
def qt_refcount_guard(qapp):
    """The app's guard against a PySide6 signal defect (``desktop.qt_compat``), installed once per run."""
    from desktop.qt_compat import install_guard

    yield install_guard(qapp)


@pytest.fixture
def dark_theme(qapp, qt_refcount_guard):
    """The app's dark theme on the test's QApplication, with the guard; autouse in tests/desktop, asked for by the
    Qt tests elsewhere (``pytestmark = pytest.mark.usefixtures("dark_theme")``)."""
    from desktop import theme

    theme.apply(qapp, theme.DARK)
    yield


# Variables that libraries set for themselves on import or start-up (Ray, Qt, OpenMP; OpenCV's loader prepends its
# folder to LD_LIBRARY_PATH on its first import, inside whichever test imports it first); a test leaves every other
# variable as it found it, so one test's endpoint, token or config folder cannot leak into the next one.
_LIBRARY_SET = ("RAY_", "QT_", "OMP_", "KMP_", "MKL_", "TOKENIZERS_", "GRPC_", "PYTHONWARNINGS", "CUDA_", "PYTEST_",
                "TORCHINDUCTOR_", "TRITON_", "OPENCV_", "MYPY_", "LD_LIBRARY_PATH")


@pytest.fixture(autouse=True)
def _environment_is_left_as_found():
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    changed = sorted(k for k in before.keys() | after.keys()
                     if before.get(k) != after.get(k) and not k.startswith(_LIBRARY_SET))
    if changed:
        os.environ.clear()
        os.environ.update(before)
        pytest.fail(f"the test changed environment variables {changed} without restoring them "
                    "(use monkeypatch.setenv / monkeypatch.delenv)")
