"""The evidence kept per analysed window: the 8 frames the model saw (reduced) and the window's audio.

Whole windows are large (32 kept frames of up to 448 px each), so only what the evidence view shows is
kept, for the newest ``EVIDENCE_KEPT_WINDOWS`` windows; older ones are read back from a session recording.
Memory: 8 frames × 168 px high (≈ 0.7 MB for 4:3) + 4 s of 16 kHz float32 audio (256 KB) per window,
≈ 95 MB for 100 windows at the default window length.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from core.window import Window, model_frame_indices

EVIDENCE_KEPT_WINDOWS = 100
EVIDENCE_FRAME_HEIGHT_PX = 168  # at most about twice the thumbnail height (high-DPI screens)
FRAMES_IN_WINDOW_KEY = "evidence_frames_in_window"  # how many frames the full window had


def evidence_copy(window: Window, indices: tuple[int, ...] | None = None,
                  height_px: int = EVIDENCE_FRAME_HEIGHT_PX) -> Window:
    """A ``Window`` with only the frames the model saw (``indices``, from its result; by default the rule for
    the usual frame count), resized to ``height_px`` high (aspect kept)."""
    idx = np.asarray(indices, np.int64) if indices is not None else model_frame_indices(len(window.frames))
    step = max(1, math.ceil(window.frames.shape[1] / height_px))
    # integer-step subsampling: a strided copy of only the kept pixels (~1 ms, on the UI thread);
    # enough for thumbnails of frames that are already reduced for the model
    frames = np.ascontiguousarray(window.frames[idx, ::step, ::step])
    source = {**window.source, FRAMES_IN_WINDOW_KEY: len(window.frames)}
    return Window(
        window.id,
        window.t0,
        window.t1,
        frames,
        window.frame_times[idx],
        window.audio,
        window.audio_status,
        window.wall_t0,
        source,
    )


class EvidenceStore:
    """Newest-first bounded map window_id → reduced Window (UI thread only)."""

    def __init__(self, capacity: int = EVIDENCE_KEPT_WINDOWS) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, Window] = OrderedDict()

    def add(self, window: Window, indices: tuple[int, ...] | None = None) -> None:
        """Keep the frames the model saw of ``window`` (``indices``: ``WindowResult.frame_indices``)."""
        self._items[window.id] = evidence_copy(window, indices)
        self._items.move_to_end(window.id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, window_id: int) -> Window | None:
        return self._items.get(window_id)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
