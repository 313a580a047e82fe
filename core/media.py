"""Reading a whole video file for analysis: ``read_clip(path) -> Clip``.

Decodes every video frame (RGB, presentation order, indexed like the official decord reader) and the first audio
track resampled by FFmpeg to 16 kHz mono float32, with PyAV. Used by ``analyze``, evaluation and re-analysis; the
signature and the :class:`Clip` fields are stable.

Problems that do not stop the analysis are reported in ``Clip.warnings`` rather than hidden: no audio track (the
model will see video only), audio longer than 30 s (the model hears only the first 30 s), fewer frames than the
model samples (frames repeat). Missing, empty or undecodable files raise :class:`MediaError` naming the fix.

Thread-safe (no shared state); blocks while decoding (CPU-bound, ~real-time x 10-50).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.window import DEFAULT_MODEL_FRAMES, MODEL_SAMPLE_RATE_HZ

MODEL_AUDIO_S = 30.0  # the Whisper tower hears at most this much
MODEL_FRAMES = DEFAULT_MODEL_FRAMES  # frames R1-Omni samples per clip (a checkpoint's num_frames may differ)
MAX_DECODED_BYTES = 3 * 1024**3  # refuse to hold more RGB frames than this in memory (frames="all")
FRAME_MODES = ("all", "sampled")


class MediaError(ValueError):
    """A file cannot be read as a clip; the message names the problem and the fix."""


@dataclass(frozen=True, eq=False)
class Clip:
    """A decoded clip. Arrays are read-only.

    frames: uint8 [N, H, W, 3] RGB (all frames, or the ``count`` the model samples with ``frames="sampled"``);
    frame_indices: int64 [N] index of each kept frame in the file's frame sequence;
    fps: average frame rate of the file; audio: float32 [S] mono at 16 kHz, or None when the file has no sound;
    duration_s: length of the video track in seconds; n_frames: frames in the file; warnings: human-readable.
    """

    path: str
    frames: np.ndarray
    frame_indices: np.ndarray
    fps: float
    audio: np.ndarray | None
    duration_s: float
    n_frames: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        return self.duration_s

    @property
    def audio_s(self) -> float:
        return 0.0 if self.audio is None else len(self.audio) / MODEL_SAMPLE_RATE_HZ


def _open(path: Path):
    import av

    if not path.exists():
        raise MediaError(f"video file {path} does not exist; check the path")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not a video file (analyze accepts folders as a batch)")
    if path.stat().st_size == 0:
        raise MediaError(f"video file {path} is empty (0 bytes); copy or record it again")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as e:
        raise MediaError(f"cannot read {path}: {e}. The file is damaged or not a video; re-encode it "
                         "(e.g. ffmpeg -i in -c:v libx264 -c:a aac out.mp4) or try another file") from None


def _count_video_frames(path: Path) -> int:
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(f"{path} has no video track; the model needs frames (audio-only files are not supported)")
        stream = c.streams.video[0]
        return sum(1 for p in c.demux(stream) if p.size > 0)


def _decode_video(path: Path, keep: set[int] | None) -> tuple[list[np.ndarray], list[int], float, float, int]:
    """-> (RGB frames kept, their indices, average fps, duration s, number of decoded frames)."""
    import av

    frames, kept = [], []
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(f"{path} has no video track; the model needs frames (audio-only files are not supported)")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        last_t = 0.0
        i = -1
        try:
            for i, frame in enumerate(c.decode(stream)):
                if keep is None or i in keep:
                    frames.append(frame.to_ndarray(format="rgb24"))
                    kept.append(i)
                    if keep is None and len(frames) * frames[0].nbytes > MAX_DECODED_BYTES:
                        raise MediaError(
                            f"{path} has more frames than fit in memory ({MAX_DECODED_BYTES >> 30} GiB of RGB at "
                            f"{frame.width}x{frame.height}); read it with frames='sampled' (the model uses "
                            f"{MODEL_FRAMES} frames) or cut it into shorter clips")
                if frame.time is not None:
                    last_t = float(frame.time)
        except av.error.FFmpegError as e:
            if i < 0:
                raise MediaError(f"cannot decode the video of {path}: {e}; re-encode the file") from None
        n = i + 1
        if n == 0:
            raise MediaError(f"{path} has a video track without any decodable frame; re-encode the file")
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        duration = (last_t - start + 1.0 / fps) if fps > 0 else 0.0
    return frames, kept, fps, duration, n


def _decode_audio(path: Path) -> np.ndarray | None:
    import av

    with _open(path) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=MODEL_SAMPLE_RATE_HZ)
        chunks = []
        try:
            for frame in c.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError:
            if not chunks:
                return None
    if not chunks:
        return np.zeros(0, np.float32)
    return np.ascontiguousarray(np.concatenate(chunks).astype(np.float32, copy=False))


def read_clip(path: str | os.PathLike, frames: str = "all", count: int = MODEL_FRAMES) -> Clip:
    """Decode ``path``. ``frames="all"`` keeps every frame; ``"sampled"`` keeps only the ``count`` frames the model
    uses (its config's num_frames; same analysis result, a fraction of the memory: use it for long or
    high-resolution files)."""
    from core.model.preprocess import frame_indices

    if frames not in FRAME_MODES:
        raise ValueError(f"frames must be one of {FRAME_MODES}")
    p = Path(path)
    keep: set[int] | None = None
    n_frames = 0
    if frames == "sampled":
        n_frames = _count_video_frames(p)
        keep = set(frame_indices(max(n_frames, 1), count).tolist())
    imgs, kept, fps, duration, decoded = _decode_video(p, keep)
    n_frames = decoded if keep is None else n_frames
    if keep is not None and len(set(kept)) != len(keep):
        raise MediaError(f"{p}: only {len(kept)} of the counted {n_frames} frames decode; re-encode the file")
    if keep is not None:  # the sampled positions, repeats included
        order = frame_indices(n_frames, count)
        imgs = [imgs[kept.index(int(i))] for i in order]
        kept = order.tolist()
    warnings: list[str] = []
    audio = _decode_audio(p)
    if audio is None:
        warnings.append("no audio track: the model sees the video only (modal 'video')")
    elif len(audio) == 0:
        warnings.append("the audio track holds no samples: the model sees the video only")
        audio = None
    elif len(audio) > MODEL_AUDIO_S * MODEL_SAMPLE_RATE_HZ:
        warnings.append(f"audio is {len(audio) / MODEL_SAMPLE_RATE_HZ:.1f} s long: the model hears only the first "
                        f"{MODEL_AUDIO_S:.0f} s (cut the file into shorter clips to analyse the rest)")
    if n_frames < MODEL_FRAMES:
        warnings.append(f"only {n_frames} video frames: the model samples {MODEL_FRAMES}, so frames repeat")
    arr = np.stack(imgs).astype(np.uint8, copy=False)
    arr.setflags(write=False)
    idx = np.asarray(kept, dtype=np.int64)
    idx.setflags(write=False)
    if audio is not None:
        audio.setflags(write=False)
    return Clip(str(p), arr, idx, fps, audio, float(duration), int(n_frames), tuple(warnings))
