"""Which frames of a window the model sees: 8 sampled uniformly, as R1-Omni's video reader does.

Kept here so that the session writer stores exactly the frames the analysis used. If ``core.model``
publishes its own sampling function, this one must give the same indices (a test checks the
formula against the documented example).
"""

from __future__ import annotations

import numpy as np

MODEL_FRAME_COUNT = 8  # frames per window fed to the vision tower


def sample_frame_indices(n_frames: int, count: int = MODEL_FRAME_COUNT) -> np.ndarray:
    """Indices into ``n_frames`` frames, int64 [count]: ``round((N-1)/count * (i+0.5) + 1e-6)``.

    numpy rounds half to even after the epsilon, as the reference does. Indices repeat for
    windows with fewer frames than ``count``; ``n_frames`` must be at least 1.
    """
    if n_frames < 1:
        raise ValueError(f"cannot sample frames from an empty window (n_frames={n_frames})")
    seg = (n_frames - 1) / count
    return np.round(seg * (np.arange(count) + 0.5) + 1e-6).astype(np.int64)
