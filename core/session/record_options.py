"""What a recording keeps (``RecordOptions``) and how the writer is doing (``WriterStats``): frozen values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.session.media_writers import VIDEO_SEGMENT_S

MiB = 1 << 20


@dataclass(frozen=True)
class RecordOptions:
    """What a recording keeps. ``analysis_only()`` keeps the log and nothing else."""

    record_video: bool = True
    record_audio: bool = True  # False: drop audio from the recording (the analysis still hears it)
    window_frames: bool = True  # keep the frames each analysis used (needed to re-analyse without video)
    blur_faces: bool = False  # blur faces in recorded video and kept frames (privacy)
    frame_format: str = "jpg"  # "jpg" (quality 90) or "png" (lossless, ~10× bigger)
    max_video_height: int | None = 720  # recorded video is scaled down to this height, px
    max_video_fps: float = 30.0  # frames closer together than 1/fps are not recorded
    video_segment_s: float = VIDEO_SEGMENT_S
    max_queue_bytes: int = 64 * MiB  # media waiting for the disk; beyond it media is dropped
    fsync_interval_s: float = 2.0

    def __post_init__(self) -> None:
        if self.frame_format not in ("jpg", "png"):
            raise ValueError(f"frame_format must be 'jpg' or 'png', got {self.frame_format!r}")

    @classmethod
    def analysis_only(cls, **kw: Any) -> RecordOptions:
        return cls(record_video=False, record_audio=False, window_frames=False, **kw)

    @property
    def records_media(self) -> bool:
        return self.record_video or self.record_audio or self.window_frames


@dataclass(frozen=True)
class WriterStats:
    """A snapshot of the writer's counters (read from any thread)."""

    state: str
    queued_media: int
    queued_media_bytes: int
    queued_log: int
    frames_written: int
    audio_s_written: float
    windows_written: int
    events_written: int  # log lines of any type
    dropped_frames: int  # queue full (disk too slow)
    dropped_audio_blocks: int
    dropped_audio_s: float
    skipped_paused: int  # media and results not recorded while paused
    dropped_window_frames: int  # results logged without their frames because the writer was behind
    bytes_written: int
    error: str | None
