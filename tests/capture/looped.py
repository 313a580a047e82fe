"""A clip looped by ``ffmpeg -stream_loop`` with its audio re-encoded as AAC: each seam leaves a hole in the audio
presentation times (the priming samples of the looped AAC, 64 ms at 16 kHz), which a clip encoded in one go has not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import PARITY_DIR

PARITY_CLIP = PARITY_DIR / "clips" / "clip_a.mp4"  # 3.0 s, 160x120 @ 15 fps, AAC 16 kHz mono
SEAM_HOLE_S = 1024 / 16_000  # one AAC frame of priming per seam


def make_looped_aac(dst: Path, loops: int = 3, source: Path = PARITY_CLIP) -> Path:
    """``ffmpeg -stream_loop LOOPS -i SOURCE -c:v libx264 -c:a aac DST`` (12.2 s for the parity clip)."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", str(loops), "-i", str(source),
         "-c:v", "libx264", "-c:a", "aac", str(dst)],
        check=True, capture_output=True, timeout=60,
    )
    return dst
