"""Fixtures of the model tests: the parity checkpoint loaded once (float32, CPU; ``R1OMNI_TEST_DEVICE=cuda``
runs the same tests on a GPU, with TF32 off so that float32 means float32)."""

from __future__ import annotations

import json
import os
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

    device = os.environ.get("R1OMNI_TEST_DEVICE", "cpu")
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = load_model(CHECKPOINT, device=device, dtype="float32")
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
