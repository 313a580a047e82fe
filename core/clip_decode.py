"""Reading a whole video file for analysis: ``read_clip(path) -> Clip``.

Decodes every video frame (RGB, presentation order, indexed like the official decord reader) and the first audio
track resampled by FFmpeg to 16 kHz mono float32, with PyAV. Used by ``analyze``, evaluation and re-analysis; the
signature and the :class:`Clip` fields are stable.

Decoding at the size the model needs: with ``model_px`` (``analyze`` and ``evaluate`` pass ``MODEL_INPUT_PX``),
each kept frame is converted to RGB exactly as before and, when it is at least ``MODEL_REDUCE_GAP`` times the
model's input, box-averaged by an integer factor as it is converted, a strip of rows at a time: neither the kept
frames nor any RGB copy grow with the input's resolution (an 8000x8000 clip: ``bench/decode_memory.py``). Frames
below that bound (the parity clips among them) are untouched, so what the model sees of them is unchanged bit for
bit; for larger ones the model's own 224 px bicubic resize starts from the reduced image, which changes its input
by hundredths of a level on average on test patterns and by under one level on random blocks
(``tests/model/test_media.py``). What still grows with the resolution is the decoder's own pictures (one full-size
YUV picture per reference and per frame thread): huge pictures get fewer threads (``DECODE_THREAD_BUDGET_BYTES``),
and pictures above ``MAX_VIDEO_PIXELS`` are refused before any is decoded.

Problems that do not stop the analysis are reported in ``Clip.warnings`` rather than hidden: no audio track (the
model will see video only), audio longer than 30 s (the model hears only the first 30 s), fewer frames than the
model samples (frames repeat). Missing, empty, damaged (decoding fails part-way) or undecodable files, and paths
that are not regular files (a folder, a FIFO, a device: checked before opening), raise :class:`MediaError` naming
the fix.

Thread-safe (no shared state); blocks while decoding (CPU-bound, ~real-time x 10-50).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.input_checks import MAX_VIDEO_PIXELS, av_reason, ffmpeg_path, file_problem, picture_size_problem
from core.model.preprocess import IMAGE_SIZE_PX
from core.window import DEFAULT_MODEL_FRAMES, MODEL_SAMPLE_RATE_HZ

MODEL_AUDIO_S = 30.0  # the Whisper tower hears at most this much
MAX_DECODED_BYTES = 3 * 1024**3  # refuse to hold more RGB frames than this in memory (frames="all")
FRAME_MODES = ("all", "sampled")
MODEL_INPUT_PX = IMAGE_SIZE_PX  # the side of the model's square input (what analyze and evaluate decode for)
# Frames at least this many times the model's input are box-reduced while decoding: PIL's own rule for a reduction
# "indistinguishable from fair resampling" is 3; at 4 the model's 224 px input changed by 0.02-0.04 of a level on
# average (at most 5 levels, at sharp edges) on 1080p and 8000x8000 ffmpeg test patterns, 0.6 on random 8 px blocks
# (the rounding of the reduced image), against 0.7-1.1 on the test patterns for a 448 px FFmpeg-scaled frame.
MODEL_REDUCE_GAP = 4
STRIP_ROWS = 64  # a reduced frame is converted to RGB this many rows at a time (about; whole blocks)
STRIP_FORMATS = ("yuv420p", "yuvj420p")  # 4:2:0 8-bit, what nearly every camera and encoder writes
DECODE_THREAD_BUDGET_BYTES = 160 * 1024**2  # full-size pictures the decoder's frame threads may hold together
YUV420_BYTES_PER_PIXEL = 1.5


class MediaError(ValueError):
    """A file cannot be read as a clip; the message names the problem and the fix."""


@dataclass(frozen=True, eq=False)
class Clip:
    """A decoded clip. Arrays are read-only.

    frames: uint8 [N, H, W, 3] RGB (all frames, or the 8 the model samples with ``frames="sampled"``);
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

    problem = file_problem(path)  # before opening: a FIFO would block, a device stream forever
    if problem is not None:
        hint = " (analyze accepts folders as a batch)" if path.is_dir() else ""
        raise MediaError(f"video file {path} {problem}{hint}")
    try:
        return av.open(ffmpeg_path(path))
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as e:
        raise MediaError(f"cannot read {path}: {av_reason(e)}. The file is damaged or not a video; re-encode it "
                         "(e.g. ffmpeg -i in -c:v libx264 -c:a aac out.mp4) or try another file") from None


def _video_stream(c, path: Path):
    """The first video track, checked: it exists and its pictures are not absurdly large."""
    if not c.streams.video:
        raise MediaError(f"{path} has no video track; the model needs frames (audio-only files are not supported)")
    stream = c.streams.video[0]
    problem = picture_size_problem(stream.codec_context.width, stream.codec_context.height, MAX_VIDEO_PIXELS)
    if problem is not None:
        raise MediaError(f"{path} {problem}")
    return stream


def _check_complete(path: Path, stream, seen: int) -> None:
    """Raise ``MediaError`` when far fewer frames could be read than the file's index lists: a file cut short
    (a download or copy that stopped) otherwise reads as a shorter clip without a word (frame-threaded decoding
    ends quietly at the cut). A frame or two of slack: some encoders list one that never decodes."""
    listed = stream.frames  # from the container's index; 0 when the container does not say
    if listed > 0 and seen < listed - max(1, listed // 100):
        raise MediaError(f"{path} is damaged or cut short: only {seen} of the {listed} video frames its index lists "
                         "can be read; re-encode or replace the file")


def _count_video_frames(path: Path) -> int:
    import av

    with _open(path) as c:
        stream = _video_stream(c, path)
        try:
            n = sum(1 for p in c.demux(stream) if p.size > 0)
        except av.error.FFmpegError as e:
            raise MediaError(f"{path} is damaged: its packets cannot be read ({av_reason(e)}); re-encode or "
                             "replace the file") from None
        _check_complete(path, stream, n)
        return n


def _decode_threads(stream) -> int:
    """Frame threads for this stream: 0 (FFmpeg's choice, one per core) unless the pictures are so large that the
    pictures in flight would exceed ``DECODE_THREAD_BUDGET_BYTES``."""
    picture = stream.codec_context.width * stream.codec_context.height * YUV420_BYTES_PER_PIXEL
    in_flight = (os.cpu_count() or 1) + 1
    if picture * in_flight <= DECODE_THREAD_BUDGET_BYTES:
        return 0
    return max(1, int(DECODE_THREAD_BUDGET_BYTES // max(picture, 1)))


def model_frame(frame, model_px: int | None) -> np.ndarray:
    """uint8 [h, w, 3] RGB of a decoded frame for a model that resizes it to ``model_px`` (bicubic): converted to RGB
    exactly as the reference reader does and, when at least ``MODEL_REDUCE_GAP`` times larger than the model's input,
    box-averaged by the integer factor that keeps it so (the first step of PIL's own ``reducing_gap`` resampling).
    A reduced frame is converted and averaged ``STRIP_ROWS`` rows at a time, so no full-size RGB frame exists."""
    factor = max(frame.width, frame.height) // (MODEL_REDUCE_GAP * model_px) if model_px else 0
    if factor < 2:
        return frame.to_ndarray(format="rgb24")
    if frame.format.name in STRIP_FORMATS and frame.width % 2 == 0 and frame.height % 2 == 0:
        return _reduce_in_strips(frame, factor)
    return box_reduce(frame.to_ndarray(format="rgb24"), factor)  # a rarer pixel format: one full-size RGB frame


def box_reduce(rgb: np.ndarray, factor: int) -> np.ndarray:
    """uint8 [H, W, 3] -> [H // factor, W // factor, 3]: the rounded mean of each factor x factor block (the last
    H % factor rows and W % factor columns, fewer than ``factor`` pixels, are left out). OpenCV's area filter at
    an exact integer ratio, 15x faster than the same mean in numpy; each output pixel depends on its block only."""
    import cv2

    h, w = rgb.shape[0] // factor, rgb.shape[1] // factor
    return cv2.resize(rgb[: h * factor, : w * factor], (w, h), interpolation=cv2.INTER_AREA)


def _reduce_in_strips(frame, factor: int) -> np.ndarray:
    """``box_reduce(frame.to_ndarray(format="rgb24"), factor)`` for a 4:2:0 frame, a strip of rows at a time: each
    strip is converted by the same FFmpeg converter, which gives the same pixels as the whole frame (a pair of luma
    rows shares its chroma row, and strips hold whole pairs)."""
    import av

    width, height = frame.width, frame.height
    y, u, v = (np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes[:3])
    rows = 2 * factor * max(1, STRIP_ROWS // (2 * factor))  # whole chroma pairs and whole output rows
    out = []
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        chroma = slice(top // 2, bottom // 2)
        planar = np.concatenate([y[top:bottom, :width],
                                 np.concatenate([u[chroma, : width // 2], v[chroma, : width // 2]])
                                 .reshape(-1, width)])
        strip = av.VideoFrame.from_ndarray(planar, format=frame.format.name)
        strip.colorspace, strip.color_range = frame.colorspace, frame.color_range
        out.append(box_reduce(strip.to_ndarray(format="rgb24"), factor))
    return np.concatenate(out)


def _decode_video(path: Path, keep: set[int] | None,
                  model_px: int | None) -> tuple[list[np.ndarray], list[int], float, float, int]:
    """-> (RGB frames kept, their indices, average fps, duration s, number of decoded frames)."""
    import av

    frames, kept = [], []
    with _open(path) as c:
        stream = _video_stream(c, path)
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = _decode_threads(stream)
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        last_t = 0.0
        i = -1
        try:
            for i, frame in enumerate(c.decode(stream)):
                if keep is None or i in keep:
                    frames.append(model_frame(frame, model_px))
                    kept.append(i)
                    if keep is None and len(frames) * frames[0].nbytes > MAX_DECODED_BYTES:
                        raise MediaError(
                            f"{path} has more frames than fit in memory ({MAX_DECODED_BYTES >> 30} GiB of RGB at "
                            f"{frame.width}x{frame.height}); read it with frames='sampled' (the model uses "
                            f"{DEFAULT_MODEL_FRAMES} frames) or cut it into shorter clips")
                if frame.time is not None:
                    last_t = float(frame.time)
        except av.error.FFmpegError as e:
            if i < 0:
                raise MediaError(f"cannot decode the video of {path}: {av_reason(e)}; re-encode the file") from None
            raise MediaError(f"{path} is damaged: decoding stopped at {last_t:.2f} s, frame {i + 1} "
                             f"({av_reason(e)}); re-encode or replace the file") from None
        n = i + 1
        if n == 0:
            raise MediaError(f"{path} has a video track without any decodable frame; re-encode the file")
        _check_complete(path, stream, n)
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
        except av.error.FFmpegError as e:
            heard = sum(len(x) for x in chunks) / MODEL_SAMPLE_RATE_HZ
            raise MediaError(f"{path} is damaged: its audio stops decoding at {heard:.2f} s ({av_reason(e)}); "
                             "re-encode or replace the file") from None
    if not chunks:
        return np.zeros(0, np.float32)
    return np.ascontiguousarray(np.concatenate(chunks).astype(np.float32, copy=False))


def read_clip(path: str | os.PathLike, frames: str = "all", model_px: int | None = None,
              count: int = DEFAULT_MODEL_FRAMES) -> Clip:
    """Decode ``path``. ``frames="all"`` keeps every frame; ``"sampled"`` keeps only the ``count`` frames the model
    uses (its config's num_frames, 8 for R1-Omni; same analysis result, a fraction of the memory: use it for long or
    high-resolution files). ``model_px``: the side of the model's square input (``MODEL_INPUT_PX``, or the loaded
    vision tower's image_size); kept frames far larger than it are reduced right after decoding (see
    ``model_frame``); None keeps them at full size."""
    from core.model.preprocess import frame_indices

    if frames not in FRAME_MODES:
        raise ValueError(f"frames must be one of {FRAME_MODES}")
    p = Path(path)
    keep: set[int] | None = None
    n_frames = 0
    if frames == "sampled":
        n_frames = _count_video_frames(p)
        keep = set(frame_indices(max(n_frames, 1), count).tolist())
    imgs, kept, fps, duration, decoded = _decode_video(p, keep, model_px)
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
    if n_frames < count:
        warnings.append(f"only {n_frames} video frames: the model samples {count}, so frames repeat")
    arr = np.stack(imgs).astype(np.uint8, copy=False)
    arr.setflags(write=False)
    idx = np.asarray(kept, dtype=np.int64)
    idx.setflags(write=False)
    if audio is not None:
        audio.setflags(write=False)
    return Clip(str(p), arr, idx, fps, audio, float(duration), int(n_frames), tuple(warnings))
