"""Where things live inside a session bundle (one folder per session).

```
SESSION/
  manifest.json            written once, atomically, at start (see manifest.py)
  events.jsonl             append-only log, one JSON object per line (see events.py)
  video/seg_000000.ts      H.264 in MPEG-TS segments; pts = session seconds × 90 kHz
  audio/seg_000000.pcm     raw s16le mono PCM, with audio/seg_000000.json (t0, rate) written first
  windows/w000042_0.jpg    the frames each window's analysis used (8 per window, chosen by
                           core.model.preprocess.frame_indices; see kept_frames.py)
  recording.mp4            optional single-file copy (video + AAC audio) made by ``consolidate``
```
Both media formats stay readable after the process is killed: MPEG-TS has no index to finalise,
and the PCM length follows from the file size.
"""

from __future__ import annotations

from pathlib import Path

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
VIDEO_DIR = "video"
AUDIO_DIR = "audio"
WINDOWS_DIR = "windows"
RECORDING = "recording.mp4"
VIDEO_SUFFIX = ".ts"
AUDIO_SUFFIX = ".pcm"
AUDIO_SIDECAR_SUFFIX = ".json"


def video_segment(root: Path, index: int) -> Path:
    return root / VIDEO_DIR / f"seg_{index:06d}{VIDEO_SUFFIX}"


def audio_segment(root: Path, index: int) -> Path:
    return root / AUDIO_DIR / f"seg_{index:06d}{AUDIO_SUFFIX}"


def audio_sidecar(pcm: Path) -> Path:
    return pcm.with_suffix(AUDIO_SIDECAR_SUFFIX)


def window_frame(window_id: int, k: int, ext: str) -> str:
    """Bundle-relative path (POSIX) of frame ``k`` of window ``window_id``."""
    return f"{WINDOWS_DIR}/w{window_id:06d}_{k}.{ext}"
