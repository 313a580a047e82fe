"""The Window value: a span of video + audio cut on the session clock, safe to hand to another thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

MODEL_SAMPLE_RATE_HZ = 16_000  # R1-Omni's Whisper tower eats 16 kHz mono
DEFAULT_WINDOW_S = 4.0  # window length and hop of a live session (why: see core.scheduler)
DEFAULT_HOP_S = 2.0
DEFAULT_MODEL_FRAMES = 8  # frames R1-Omni samples per clip; a checkpoint's config (num_frames) may say otherwise

AUDIO_OK = "ok"
AUDIO_MISSING = "missing"  # no microphone / no audio track / no samples in the span
AUDIO_SILENT = "silent"  # samples present but below the silence threshold
AUDIO_PARTIAL = "partial"  # audio covers only part of the span (gap, start of capture)
AUDIO_STATUSES = (AUDIO_OK, AUDIO_MISSING, AUDIO_SILENT, AUDIO_PARTIAL)


def model_frame_indices(n_frames: int, count: int = DEFAULT_MODEL_FRAMES) -> np.ndarray:
    """The frames the model sees: ``count`` indices sampled uniformly from ``n_frames`` -> int64 [count].

    The one definition of the rule (the official inference path's uniform sampling, segment midpoints rounded);
    the model, the face check, the session writer's kept frames and the evidence view all use it, with ``count``
    taken from the loaded checkpoint (``num_frames`` in its config)."""
    if n_frames < 1:
        raise ValueError("a clip needs at least one frame")
    if count < 1:
        raise ValueError(f"the model must sample at least one frame, not {count}")
    seg = (n_frames - 1) / count
    return np.round(np.array([seg * (i + 0.5) + 1e-6 for i in range(count)], dtype=np.float64)).astype(np.int64)


def _readonly(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Window:
    """One analysis window. Arrays are private read-only copies.

    frames: uint8 [N, H, W, 3] RGB; frame_times: float64 [N] session seconds;
    audio: float32 [S] mono at ``MODEL_SAMPLE_RATE_HZ`` or None.
    """

    id: int
    t0: float  # session seconds
    t1: float
    frames: np.ndarray
    frame_times: np.ndarray
    audio: np.ndarray | None
    audio_status: str = AUDIO_OK
    wall_t0: float = 0.0  # unix seconds at t0
    source: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [N,H,W,3], got {self.frames.dtype} {self.frames.shape}")
        if len(self.frame_times) != len(self.frames):
            raise ValueError("frame_times and frames differ in length")
        if self.audio is not None and (self.audio.ndim != 1 or self.audio.dtype != np.float32):
            raise ValueError(f"audio must be float32 [S], got {self.audio.dtype} {self.audio.shape}")
        if self.audio_status not in AUDIO_STATUSES:
            raise ValueError(f"unknown audio_status {self.audio_status!r}")
        object.__setattr__(self, "frames", _readonly(self.frames))
        object.__setattr__(self, "frame_times", _readonly(np.asarray(self.frame_times, np.float64)))
        object.__setattr__(self, "audio", _readonly(self.audio))
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))

    @property
    def duration_s(self) -> float:
        return self.t1 - self.t0
