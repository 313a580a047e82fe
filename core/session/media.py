"""Reading recorded media from a bundle, through ``BundleFiles`` (confined, no symlinks, regular files, capped):
audio segments by time, video frames by time (``VideoCursor``), kept frames, and the one-file copy for other
tools (``consolidate``). The formats are described in ``core.session.media_writers``.

Readers may run on any one thread at a time. Whatever a bundle holds, they skip what they cannot use (noting it in
the bundle's ``BundleFiles``) and never hang, allocate without bound or follow a link out of the bundle.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.safe_files import atomic_output
from core.session import layout, strict_json
from core.session.bundle_files import (
    MAX_AUDIO_SEGMENT_BYTES,
    MAX_FRAME_BYTES,
    MAX_SIDECAR_BYTES,
    MAX_VIDEO_SEGMENT_BYTES,
    BundleFiles,
)
from core.session.errors import BundleFileError
from core.session.records import MAX_SESSION_S
from core.window import MODEL_SAMPLE_RATE_HZ

# limits on what a bundle's media may ask of a reader (it may come from someone else)
MAX_IMAGE_PIXELS = 40_000_000  # a kept frame or a decoded video frame (8K UHD is 33 Mpx)
MAX_AUDIO_READ_S = 3600.0  # one read of recorded audio (a window is at most 600 s, playback reads 0.25 s)
MAX_WINDOW_FRAMES = 900  # frames decoded for one window (30 s at 30 fps); longer spans are thinned evenly
MAX_AUDIO_OVERHANG_S = 60.0  # recorded audio reaching this far beyond the video means damaged timing
AUDIO_RATES_HZ = (8_000, 384_000)  # plausible sample rates of a sidecar
_VIDEO_NAME = re.compile(r"seg_\d{6}" + re.escape(layout.VIDEO_SUFFIX))
_AUDIO_NAME = re.compile(r"seg_\d{6}" + re.escape(layout.AUDIO_SUFFIX))


def as_bundle(root: BundleFiles | str | os.PathLike[str]) -> BundleFiles:
    """``root`` itself, or confined access to the bundle folder it names."""
    return root if isinstance(root, BundleFiles) else BundleFiles(root)


def decode_image(files: BundleFiles, rel: str) -> np.ndarray:
    """The kept frame ``rel`` of a bundle as uint8 [H,W,3] RGB.

    Raises ``FileNotFoundError`` when it is missing and :class:`BundleFileError` when it is refused or is
    not a readable JPEG/PNG of at most ``MAX_IMAGE_PIXELS`` (checked from the header, before decoding)."""
    import cv2
    from PIL import Image

    data = files.read(rel, MAX_FRAME_BYTES)
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except Exception:  # noqa: BLE001 — Pillow raises many kinds for damaged headers
        raise BundleFileError(f"{rel} in {files.root} is not a readable image (empty or damaged)") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise BundleFileError(f"{rel} in {files.root} is {width}x{height} pixels, more than a kept frame can be")
    try:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise BundleFileError(f"{rel} in {files.root} is not a readable image (empty or damaged)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------- readers (any thread)
@dataclass(frozen=True)
class AudioSegment:
    path: Path
    t0: float  # session seconds of the first sample
    sample_rate: int
    samples: int  # complete samples on disk (a torn last sample is ignored)
    rel: str = ""  # bundle-relative path

    @property
    def t1(self) -> float:
        return self.t0 + self.samples / self.sample_rate


def _sidecar(meta: Any) -> tuple[float, int]:
    """(t0 s, sample rate Hz) of a checked audio sidecar; ``ValueError`` naming what does not fit."""
    if not isinstance(meta, dict):  # data from a bundle: a ValueError like every other bad field
        raise ValueError("its sidecar is not a JSON object")  # noqa: TRY004
    t0, rate = meta.get("t0"), meta.get("sample_rate")
    if isinstance(t0, bool) or not isinstance(t0, (int, float)) or not math.isfinite(t0) or abs(t0) > MAX_SESSION_S:
        raise ValueError(f"its sidecar's t0 is {t0!r}, not a session time")
    if type(rate) is not int or not AUDIO_RATES_HZ[0] <= rate <= AUDIO_RATES_HZ[1]:
        raise ValueError(f"its sidecar's sample_rate is {rate!r}, not a rate in Hz")
    if meta.get("channels", 1) != 1 or meta.get("format", "s16le") != "s16le":
        raise ValueError("its sidecar describes a layout other than mono s16le")
    return float(t0), rate


def audio_segments(root: BundleFiles | str | os.PathLike[str]) -> list[AudioSegment]:
    """The recorded audio segments, in time order; unusable ones are skipped and noted in the bundle."""
    files = as_bundle(root)
    out = []
    for rel in files.list(layout.AUDIO_DIR, _AUDIO_NAME):
        side = rel[: -len(layout.AUDIO_SUFFIX)] + layout.AUDIO_SIDECAR_SUFFIX
        try:
            t0, rate = _sidecar(strict_json.loads(files.read(side, MAX_SIDECAR_BYTES)))
            size = files.size(rel)
            if size > MAX_AUDIO_SEGMENT_BYTES:
                raise ValueError(f"{size} bytes, more than an audio segment can be")
        except FileNotFoundError:
            files.note(rel, "its sidecar (start time, rate) is missing")
            continue
        except (ValueError, OSError) as e:  # BundleFileError and JSONRejected are ValueErrors
            files.note(rel, str(e))
            continue
        out.append(AudioSegment(files.root / rel, t0, rate, size // 2, rel))
    return sorted(out, key=lambda s: s.t0)


def read_audio(
    root: BundleFiles | str | os.PathLike[str], t0: float, t1: float, sample_rate: int = MODEL_SAMPLE_RATE_HZ
) -> tuple[np.ndarray, float]:
    """float32 [round((t1-t0)·rate)] for session span [t0, t1) (gaps are zeros), and the covered fraction."""
    if not t1 - t0 <= MAX_AUDIO_READ_S:
        raise ValueError(f"cannot read {t1 - t0:g} s of audio at once (at most {MAX_AUDIO_READ_S:g} s)")
    files = as_bundle(root)
    n = max(0, round((t1 - t0) * sample_rate))
    out = np.zeros(n, np.float32)
    covered = 0
    for seg in audio_segments(files):
        if seg.sample_rate != sample_rate or seg.t1 <= t0 or seg.t0 >= t1:
            continue
        dst0 = max(0, round((seg.t0 - t0) * sample_rate))
        src0 = max(0, round((t0 - seg.t0) * sample_rate))
        count = min(n - dst0, seg.samples - src0)
        if count <= 0:
            continue
        try:
            raw = files.read_range(seg.rel, 2 * src0, 2 * count, MAX_AUDIO_SEGMENT_BYTES)
        except (OSError, ValueError) as e:  # replaced or removed since it was listed
            files.note(seg.rel, str(e))
            continue
        data = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2")
        out[dst0 : dst0 + len(data)] = data.astype(np.float32) / 32767.0
        covered += len(data)
    return out, (covered / n if n else 0.0)


def video_segments(root: BundleFiles | str | os.PathLike[str]) -> list[str]:
    """Bundle-relative paths of the video segments (regular files only), in recording order."""
    return as_bundle(root).list(layout.VIDEO_DIR, _VIDEO_NAME)


@dataclass(frozen=True)
class SegmentSpan:
    path: str  # bundle-relative
    t0: float  # session seconds of its first frame
    t1: float  # of its last decodable frame


_AV_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, IndexError, ValueError)


def _av_errors() -> tuple[type[BaseException], ...]:
    import av

    return (av.FFmpegError, *_AV_ERRORS)


def _open_segment(files: BundleFiles, rel: str) -> tuple[BinaryIO, Any]:
    """(the file, a PyAV container reading it); the file is opened confined, so PyAV never opens a path."""
    import av

    f = files.open(rel, MAX_VIDEO_SEGMENT_BYTES)
    try:
        return f, av.open(f, "r")
    except BaseException:
        f.close()
        raise


def _decode(files: BundleFiles, rel: str) -> Generator[tuple[float, np.ndarray], None, None]:
    """(session seconds, uint8 [H,W,3] RGB) for every decodable frame of a segment, torn tail tolerated.

    A segment that cannot be opened, has no video or has frames larger than ``MAX_IMAGE_PIXELS`` yields
    nothing and is noted in the bundle."""
    errors = _av_errors()
    try:
        f, container = _open_segment(files, rel)
    except FileNotFoundError:
        return
    except errors as e:
        files.note(rel, f"not a readable video segment ({e})")
        return
    try:
        stream = container.streams.video[0] if container.streams.video else None
        if stream is None or stream.codec_context.width * stream.codec_context.height > MAX_IMAGE_PIXELS:
            files.note(rel, "no video stream, or frames larger than a recording can be")
            return
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                if frame.width * frame.height > MAX_IMAGE_PIXELS:
                    files.note(rel, "frames larger than a recording can be")
                    return
                yield float(frame.pts * stream.time_base), frame.to_ndarray(format="rgb24")
        except errors:
            return  # a segment cut short by a kill ends here
    finally:
        container.close()
        f.close()


def segment_span(files: BundleFiles, rel: str, first_only: bool = False) -> SegmentSpan | None:
    """First/last frame times from packet timestamps (no decoding); None if it holds no frame.

    ``first_only`` stops at the first packet (``t1`` is then that packet's time too).
    """
    first: float | None = None
    last: float | None = None
    errors = _av_errors()
    try:
        f, c = _open_segment(files, rel)
    except FileNotFoundError:
        return None
    except errors as e:
        files.note(rel, f"not a readable video segment ({e})")
        return None
    try:
        s = c.streams.video[0]
        for p in c.demux(s):
            if p.pts is None:
                continue
            t = float(p.pts * s.time_base)
            first = t if first is None else min(first, t)
            last = t if last is None else max(last, t)
            if first_only:
                break
    except errors:
        pass
    finally:
        c.close()
        f.close()
    return None if first is None or last is None else SegmentSpan(rel, first, last)  # both set, or neither


def _segment_spans(files: BundleFiles, paths: list[str]) -> list[SegmentSpan]:
    """Spans of consecutive segments: each ends where the next begins; only the last is read in full."""
    heads = [s for s in (segment_span(files, p, first_only=True) for p in paths[:-1]) if s is not None]
    last = segment_span(files, paths[-1]) if paths else None
    spans = heads + ([last] if last is not None else [])
    return [SegmentSpan(s.path, s.t0, spans[i + 1].t0 if i + 1 < len(spans) else s.t1) for i, s in enumerate(spans)]


class VideoCursor:
    """Frame lookup by session time over the segments, decoding forward (replay and re-analysis).

    ``frame_at(t)`` returns the last frame at or before ``t`` (or the first one after it when ``t``
    precedes the recording). Moving forward keeps the decoder; moving back reopens one segment.
    Opening reads one packet per segment (plus the whole last one), so an hour opens quickly.
    """

    def __init__(self, root: BundleFiles | str | os.PathLike[str]) -> None:
        self.files = as_bundle(root)
        self.spans = _segment_spans(self.files, video_segments(self.files))
        self._seg = -1
        self._it: Generator[tuple[float, np.ndarray], None, None] | None = None
        self._cur: tuple[float, np.ndarray] | None = None
        self._next: tuple[float, np.ndarray] | None = None

    @property
    def t0(self) -> float | None:
        return self.spans[0].t0 if self.spans else None

    @property
    def t1(self) -> float | None:
        return self.spans[-1].t1 if self.spans else None

    def _segment_for(self, t: float) -> int:
        idx = 0
        for i, s in enumerate(self.spans):
            if s.t0 <= t + 1e-9:
                idx = i
        return idx

    def frame_at(self, t: float) -> tuple[float, np.ndarray] | None:
        """(frame time s, uint8 [H,W,3] RGB) or None when nothing was recorded (or it cannot be decoded)."""
        if not self.spans:
            return None
        seg = self._segment_for(t)
        if seg != self._seg or self._cur is None or t < self._cur[0] - 1e-9:
            self.close()
            self._seg, self._it = seg, _decode(self.files, self.spans[seg].path)
            self._cur, self._next = next(self._it, None), None
            if self._cur is None:
                return None
        while True:
            if self._next is None:
                self._next = next(self._it, None) if self._it is not None else None
            if self._next is None or self._next[0] > t + 1e-9:
                return self._cur
            self._cur, self._next = self._next, None

    def close(self) -> None:
        """Close the segment being decoded (the generator closes its file)."""
        if self._it is not None:
            self._it.close()
        self._it, self._cur, self._next, self._seg = None, None, None, -1

    def frames_between(
        self, t0: float, t1: float, max_frames: int = MAX_WINDOW_FRAMES
    ) -> tuple[np.ndarray, np.ndarray]:
        """Recorded frames with t0 ≤ t < t1: (float64 [N] times, uint8 [N,H,W,3]); N may be 0.

        At most about ``max_frames``: a longer span keeps frames at least (t1-t0)/max_frames apart."""
        min_gap = (t1 - t0) / max_frames
        times: list[float] = []
        frames: list[np.ndarray] = []
        for span in self.spans:
            if span.t1 < t0 or span.t0 >= t1:
                continue
            for t, rgb in _decode(self.files, span.path):
                if t0 - 1e-9 <= t < t1 and (not times or t - times[-1] >= min_gap):
                    times.append(t)
                    frames.append(rgb)
        if not frames or len({f.shape for f in frames}) > 1:
            frames = [f for f in frames if f.shape == frames[-1].shape] if frames else []
            times = times[-len(frames) :] if frames else []
        return np.asarray(times, np.float64), (np.stack(frames) if frames else np.zeros((0, 2, 2, 3), np.uint8))


# ---------------------------------------------------------------- one-file copy for other tools
def media_origin(root: BundleFiles | str | os.PathLike[str]) -> float:
    """Session time (s) where the recorded media start: the earlier of the first frame and the first
    audio sample; 0.0 when nothing was recorded. ``consolidate`` puts it at time 0 of its file."""
    files = as_bundle(root)
    starts = [s.t0 for s in audio_segments(files)]
    segs = video_segments(files)
    if segs:
        first = segment_span(files, segs[0], first_only=True)
        if first is not None:
            starts.append(first.t0)
    return min(starts) if starts else 0.0


def consolidate(root: BundleFiles | str | os.PathLike[str], out: Path | None = None) -> Path | None:
    """Join the video segments (no re-encode) and the audio (AAC) into one mp4 for ELAN and players.

    Runs after recording (also on a bundle left by a crash). Returns the file, or None without video.
    Audio gaps are filled with silence so that audio stays aligned with the session clock. The file is
    written through ``core.safe_files.atomic_output`` (never through a planted symlink). Raises
    :class:`BundleFileError` when the audio lies far outside the video (damaged timing), ``OSError``
    when the file cannot be written.
    """
    import av

    files = as_bundle(root)
    spans = _segment_spans(files, video_segments(files))
    if not spans:
        return None
    out = Path(out) if out else files.root / layout.RECORDING
    asegs = audio_segments(files)
    t_origin = media_origin(files)  # time 0 of the file: what ELAN / WebVTT exports count from
    t_end = max([spans[-1].t1, *(s.t1 for s in asegs)])
    if (t_end - t_origin) - (spans[-1].t1 - spans[0].t0) > MAX_AUDIO_OVERHANG_S:
        raise BundleFileError(
            f"the recorded audio of {files.root} spans {t_origin:g}–{t_end:g} s, far beyond its video "
            f"({spans[0].t0:g}–{spans[-1].t1:g} s): its timing is damaged; export without media"
        )
    errors = _av_errors()
    with atomic_output(out) as sink, av.open(sink, "w", format="mp4") as dst:
        f, first = _open_segment(files, spans[0].path)
        with f, first:
            vout = dst.add_stream_from_template(first.streams.video[0])
        aout = None
        if asegs:
            aout = dst.add_stream("aac", rate=MODEL_SAMPLE_RATE_HZ)
            aout.layout = "mono"
        last_dts = None
        for span in spans:
            f, src = _open_segment(files, span.path)
            with f, src:
                sin = src.streams.video[0]
                try:
                    for p in src.demux(sin):
                        if p.dts is None or p.pts is None or p.size == 0:
                            continue
                        p.pts = round((float(p.pts * sin.time_base) - t_origin) / float(sin.time_base))
                        p.dts = round((float(p.dts * sin.time_base) - t_origin) / float(sin.time_base))
                        if last_dts is not None and p.dts <= last_dts:
                            continue
                        last_dts = p.dts
                        p.stream = vout
                        dst.mux(p)
                except errors:
                    pass  # torn tail of a killed recording
        if aout is not None:
            chunk_s = 10.0
            t = t_origin
            pts = 0  # audio starts at the file's time 0 (silence until the first recorded block)
            while t < t_end:
                pcm, _ = read_audio(files, t, min(t_end, t + chunk_s))
                frame = av.AudioFrame.from_ndarray(pcm[None, :], format="flt", layout="mono")
                frame.sample_rate, frame.pts = MODEL_SAMPLE_RATE_HZ, pts
                pts += len(pcm)
                for p in aout.encode(frame):
                    dst.mux(p)
                t += chunk_s
            for p in aout.encode(None):
                dst.mux(p)
    return out
