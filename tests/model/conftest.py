"""Fixtures of the model tests: the parity checkpoint loaded once (float32, CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PARITY_DIR

CHECKPOINT = PARITY_DIR / "checkpoint"


@pytest.fixture(scope="session")
def parity_model():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    from core.model import load_model

    model = load_model(CHECKPOINT, device="cpu", dtype="float32")
    yield model
    model.close()


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((PARITY_DIR / "manifest.json").read_text())


@pytest.fixture(scope="session")
def clip_a() -> dict:
    with np.load(PARITY_DIR / "clips" / "clip_a.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture()
def checkpoint_copy(tmp_path: Path) -> Path:
    """A writable copy of the parity checkpoint (3.5 MB) to break in tests."""
    dst = tmp_path / "ckpt"
    shutil.copytree(CHECKPOINT, dst)
    return dst
