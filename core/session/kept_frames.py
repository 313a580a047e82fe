"""The frames a window's analysis used, kept in the bundle so that the analysis can be checked and re-run.

``KeptFrames.of(window, indices)`` copies out the frames the model saw (``WindowResult.frame_indices``; by
default the rule ``core.window.model_frame_indices`` for the usual count) on the
caller's thread, so the writer's queue never holds whole windows (~100 MB at 4 s of 640x480 at 30 fps) while
the disk is slow. ``write`` runs on the writer's log thread and returns the log's references to the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.safe_files import Opener
from core.session import layout
from core.session.media_writers import encode_image, real_folder
from core.window import Window, model_frame_indices


@dataclass(frozen=True)
class KeptFrames:
    frames: np.ndarray  # uint8 [8,H,W,3]
    times: np.ndarray  # float64 [8] session seconds
    indices: np.ndarray  # int64 [8] into the window's frames
    n_frames: int  # frames in the window

    @classmethod
    def of(cls, window: Window, indices: tuple[int, ...] | None = None) -> KeptFrames:
        """A copy of the frames of ``window`` that the model saw (``indices`` into its frames)."""
        idx = (np.asarray(indices, np.int64) if indices is not None
               else model_frame_indices(len(window.frames)))
        return cls(window.frames[idx], window.frame_times[idx], idx, len(window.frames))

    @property
    def nbytes(self) -> int:
        return self.frames.nbytes

    def write(
        self,
        directory: Path,
        window_id: int,
        ext: str,
        opener: Opener,
        blur: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> list[dict[str, Any]]:
        """Encode each frame (``ext``: jpg | png; blurred first with ``blur``) as ``windows/w<id>_<k>.<ext>`` in
        ``directory``; the files are opened with ``opener`` (no-follow, counted). Returns the log's references:
        ``[{"file", "t", "index"}, ...]``."""
        out = []
        if len(self.frames):  # every frame goes into windows/ (layout.window_frame): checked once, not per frame
            real_folder(directory / layout.WINDOWS_DIR)
        for k, (rgb, t, i) in enumerate(zip(self.frames, self.times, self.indices, strict=True)):
            rel = layout.window_frame(window_id, k, ext)
            path = directory / rel
            with opener(path, "wb") as f:
                f.write(encode_image(blur(rgb) if blur is not None else rgb, ext))
            out.append({"file": rel, "t": float(t), "index": int(i)})
        return out
