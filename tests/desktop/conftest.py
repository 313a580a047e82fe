"""Desktop test fixtures: a themed QApplication, result/window builders, settings kept in tmp_path."""

from __future__ import annotations

import numpy as np
import pytest

from core import labels as core_labels
from core.results import AnalysisResult, WindowResult, parse_response
from core.window import MODEL_SAMPLE_RATE_HZ, Window


@pytest.fixture(autouse=True)
def _themed(dark_theme):
    """Every desktop test runs in the app's theme, with the Qt guard (tests/conftest.py)."""
    yield


def make_window(window_id: int, t0: float, t1: float, fps: float = 10.0, audio: bool = True) -> Window:
    """A Window whose frame k is filled with grey level 10*k (so tests can tell frames apart)."""
    n = max(1, round((t1 - t0) * fps))
    frames = np.zeros((n, 24, 32, 3), np.uint8)
    for k in range(n):
        frames[k] = (10 * k) % 256
    times = t0 + np.arange(n) / fps
    samples = (0.3 * np.sin(np.linspace(0, 200, int((t1 - t0) * MODEL_SAMPLE_RATE_HZ)))).astype(np.float32)
    return Window(
        window_id,
        t0,
        t1,
        frames,
        times,
        samples if audio else None,
        "ok" if audio else "missing",
        wall_t0=1.7e9 + t0,
    )


def make_result(
    window_id: int,
    t0: float,
    t1: float,
    label: str = "happy",
    scores: bool = True,
    think: str = "The person smiles broadly and the voice is bright.",
) -> WindowResult:
    text = f"<think>{think}</think><answer>{label}</answer>"
    parsed = parse_response(text, core_labels.DFEW)
    sc = None
    if scores:
        raw = np.linspace(1, 2, len(core_labels.DFEW))
        sc = {name: float(v) for name, v in zip(core_labels.DFEW, raw / raw.sum())}
        sc[label] = 0.6
    analysis = AnalysisResult(
        token_ids=tuple(range(12)),
        text=text,
        think=parsed.think,
        answer=parsed.answer,
        label=parsed.label,
        parse_status=parsed.status,
        label_set="dfew",
        modal="video_audio",
        scores=sc,
        timings={"vision": 0.4, "audio": 1.2, "generate": 3.1, "total": 4.8},
    )
    return WindowResult(window_id, t0, t1, 1.7e9 + t0, analysis, "ok", finished_at=t1 + 4.8)
