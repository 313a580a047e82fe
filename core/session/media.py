"""Crash-safe recorded media: H.264 video in MPEG-TS segments and raw PCM audio segments.

Why these formats: MPEG-TS has no header or index to finalise, so a segment cut short by a kill
decodes up to its last complete packet; the muxer runs with ``flush_packets`` and the encoder with
``tune=zerolatency`` (no lookahead, no B-frames), so every frame reaches the OS as soon as it is
encoded. Raw s16le PCM has no header at all: its sidecar JSON (start time, rate) is written before
the first sample, and the length follows from the file size. Segments also bound what a machine
crash (not a process kill) can lose: closed segments are fsynced.

Writers run on the session writer thread only; readers on any one thread at a time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from core.faces import FaceDetector, FaceDetectorUnavailable
from core.session import layout
from core.window import MODEL_SAMPLE_RATE_HZ

PTS_HZ = 90_000  # MPEG-TS clock: pts = round(session seconds × 90 kHz)
VIDEO_SEGMENT_S = 4.0  # a new segment (and keyframe) at least every 4 s: cheap backward seeks in replay
AUDIO_SEGMENT_S = 60.0
AUDIO_GAP_TOLERANCE_S = 0.05  # a larger gap or overlap between blocks starts a new audio segment
NOMINAL_FPS = 30  # encoder hint only; pts carry the real times
JPEG_QUALITY = 90

Opener = Callable[[Path, str], BinaryIO]


def default_opener(path: Path, mode: str) -> BinaryIO:
    """Unbuffered binary files: every ``write`` is an OS write, so a killed process loses nothing written."""
    return open(path, mode, buffering=0)  # type: ignore[return-value]


def fsync_file(f: Any) -> None:
    try:
        os.fsync(f.fileno())
    except (AttributeError, ValueError, OSError):
        pass  # files without a descriptor (tests) or filesystems that refuse fsync


def even_crop(rgb: np.ndarray) -> np.ndarray:
    """yuv420p needs even sizes: drop a last odd row/column."""
    h, w = rgb.shape[:2]
    return rgb[: h - h % 2, : w - w % 2]


def fit_height(rgb: np.ndarray, max_height: int | None) -> np.ndarray:
    if not max_height or rgb.shape[0] <= max_height:
        return rgb
    import cv2

    scale = max_height / rgb.shape[0]
    return cv2.resize(rgb, (max(2, round(rgb.shape[1] * scale)), max_height), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------- privacy: face blurring
class FaceBlurUnavailable(RuntimeError):
    pass


class FaceBlur:
    """Blurs detected faces in RGB frames (uint8 [H,W,3]), found by :class:`core.faces.FaceDetector`.

    ``detector(gray) -> [(x, y, w, h), ...]`` can be injected; by default OpenCV's Haar cascade.
    """

    MARGIN = 0.25  # grow each box by this fraction so hair and chin are covered too

    def __init__(self, detector: Callable[[np.ndarray], Any] | None = None) -> None:
        import cv2

        self._cv2 = cv2
        try:
            self._faces = FaceDetector(detector, min_face_fraction=0.0)  # blur small faces too
        except FaceDetectorUnavailable as exc:
            raise FaceBlurUnavailable(
                f"face blurring is not available: {exc}; or record analysis only (no video)"
            ) from None

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        h, w = rgb.shape[:2]
        boxes = self._faces(rgb)
        if len(boxes) == 0:
            return rgb
        out = np.array(rgb, copy=True)
        for x, y, bw, bh in boxes:
            mx, my = bw * self.MARGIN, bh * self.MARGIN
            x0, y0 = max(0, int(x - mx)), max(0, int(y - my))
            x1, y1 = min(w, int(x + bw + mx)), min(h, int(y + bh + my))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            # pixelate to 8×8 then blur: no identity survives, unlike a light blur
            roi = cv2.resize(out[y0:y1, x0:x1], (8, 8), interpolation=cv2.INTER_AREA)
            k = max(3, (max(x1 - x0, y1 - y0) // 4) | 1)
            out[y0:y1, x0:x1] = cv2.GaussianBlur(
                cv2.resize(roi, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR), (k, k), 0
            )
        return out


# ---------------------------------------------------------------- still frames (window evidence)
def encode_image(rgb: np.ndarray, ext: str) -> bytes:
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext == "jpg" else []
    ok, buf = cv2.imencode("." + ext, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} frame as {ext}")
    return buf.tobytes()


def decode_image(path: Path) -> np.ndarray:
    """uint8 [H,W,3] RGB."""
    import cv2

    bgr = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path} is not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------- writers (writer thread)
class VideoSegmentWriter:
    """RGB frames at session times → H.264 MPEG-TS segments under ``root/video``."""

    def __init__(
        self, root: Path, opener: Opener, segment_s: float = VIDEO_SEGMENT_S, max_height: int | None = 720
    ) -> None:
        self._root, self._open, self._segment_s, self._max_height = root, opener, segment_s, max_height
        (root / layout.VIDEO_DIR).mkdir(parents=True, exist_ok=True)
        self._index = len(list((root / layout.VIDEO_DIR).glob("seg_*" + layout.VIDEO_SUFFIX)))
        self._file: Any = None
        self._container: Any = None
        self._stream: Any = None
        self._seg_t0 = 0.0
        self._size: tuple[int, int] | None = None
        self._last_pts = -1
        self.frames_written = 0

    def write(self, rgb: np.ndarray, t: float) -> bool:
        """Encode one frame at session time ``t`` s; False if it was skipped (not after the previous one)."""
        import av

        rgb = even_crop(fit_height(rgb, self._max_height))
        pts = round(t * PTS_HZ)
        if pts <= self._last_pts:
            return False
        size = (rgb.shape[1], rgb.shape[0])
        if self._container is None or size != self._size or t - self._seg_t0 >= self._segment_s:
            self._open_segment(size, t)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = pts, Fraction(1, PTS_HZ)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_pts = pts
        self.frames_written += 1
        return True

    def _open_segment(self, size: tuple[int, int], t: float) -> None:
        import av

        self.close()
        path = layout.video_segment(self._root, self._index)
        self._index += 1
        self._file = self._open(path, "wb")
        self._container = av.open(self._file, "w", format="mpegts", options={"flush_packets": "1"})
        s = self._container.add_stream(
            "libx264", rate=NOMINAL_FPS, options={"preset": "ultrafast", "tune": "zerolatency"}
        )
        s.width, s.height = size
        s.pix_fmt = "yuv420p"
        s.codec_context.time_base = Fraction(1, PTS_HZ)
        self._stream, self._size, self._seg_t0 = s, size, t

    def close(self) -> None:
        """Flush the encoder and close the segment; safe to call twice, and after a failed write."""
        if self._container is None:
            return
        container, f = self._container, self._file
        self._container = self._stream = self._file = None
        try:
            for packet in container.streams.video[0].encode():
                container.mux(packet)
            container.close()
            fsync_file(f)
        finally:
            try:
                f.close()
            except OSError:
                pass


class AudioSegmentWriter:
    """float32 mono 16 kHz blocks at session times → s16le PCM segments under ``root/audio``."""

    def __init__(
        self,
        root: Path,
        opener: Opener,
        segment_s: float = AUDIO_SEGMENT_S,
        sample_rate: int = MODEL_SAMPLE_RATE_HZ,
    ) -> None:
        self._root, self._open, self._segment_s, self.sample_rate = root, opener, segment_s, sample_rate
        (root / layout.AUDIO_DIR).mkdir(parents=True, exist_ok=True)
        self._index = len(list((root / layout.AUDIO_DIR).glob("seg_*" + layout.AUDIO_SUFFIX)))
        self._file: Any = None
        self._seg_t0 = 0.0
        self._samples = 0
        self.samples_written = 0

    def write(self, block: np.ndarray, t: float) -> None:
        """``block`` float32 [S] in [-1, 1] whose first sample is at session time ``t`` s."""
        expected = self._seg_t0 + self._samples / self.sample_rate
        if (
            self._file is None
            or abs(t - expected) > AUDIO_GAP_TOLERANCE_S
            or self._samples >= self._segment_s * self.sample_rate
        ):
            self._open_segment(
                t if self._file is None or abs(t - expected) > AUDIO_GAP_TOLERANCE_S else expected
            )
        pcm = (np.clip(np.asarray(block, np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2")
        self._file.write(pcm.tobytes())
        self._samples += len(pcm)
        self.samples_written += len(pcm)

    def _open_segment(self, t0: float) -> None:
        self.close()
        pcm = layout.audio_segment(self._root, self._index)
        self._index += 1
        with self._open(layout.audio_sidecar(pcm), "wb") as side:
            side.write(
                json.dumps(
                    {"t0": t0, "sample_rate": self.sample_rate, "channels": 1, "format": "s16le"}
                ).encode()
            )
        self._file = self._open(pcm, "wb")
        self._seg_t0, self._samples = t0, 0

    def close(self) -> None:
        if self._file is None:
            return
        f, self._file = self._file, None
        try:
            fsync_file(f)
        finally:
            f.close()


# ---------------------------------------------------------------- readers (any thread)
@dataclass(frozen=True)
class AudioSegment:
    path: Path
    t0: float  # session seconds of the first sample
    sample_rate: int
    samples: int  # complete samples on disk (a torn last sample is ignored)

    @property
    def t1(self) -> float:
        return self.t0 + self.samples / self.sample_rate


def audio_segments(root: Path) -> list[AudioSegment]:
    out = []
    for pcm in sorted((Path(root) / layout.AUDIO_DIR).glob("seg_*" + layout.AUDIO_SUFFIX)):
        try:
            meta = json.loads(layout.audio_sidecar(pcm).read_text())
        except (OSError, ValueError):
            continue  # sidecar missing or torn: the segment cannot be placed in time
        out.append(AudioSegment(pcm, float(meta["t0"]), int(meta["sample_rate"]), pcm.stat().st_size // 2))
    return sorted(out, key=lambda s: s.t0)


def read_audio(
    root: Path, t0: float, t1: float, sample_rate: int = MODEL_SAMPLE_RATE_HZ
) -> tuple[np.ndarray, float]:
    """float32 [round((t1-t0)·rate)] for session span [t0, t1) (gaps are zeros), and the covered fraction."""
    n = max(0, round((t1 - t0) * sample_rate))
    out = np.zeros(n, np.float32)
    covered = 0
    for seg in audio_segments(root):
        if seg.sample_rate != sample_rate or seg.t1 <= t0 or seg.t0 >= t1:
            continue
        dst0 = max(0, round((seg.t0 - t0) * sample_rate))
        src0 = max(0, round((t0 - seg.t0) * sample_rate))
        count = min(n - dst0, seg.samples - src0)
        if count <= 0:
            continue
        data = np.fromfile(seg.path, dtype="<i2", count=count, offset=2 * src0)
        out[dst0 : dst0 + len(data)] = data.astype(np.float32) / 32767.0
        covered += len(data)
    return out, (covered / n if n else 0.0)


def video_segments(root: Path) -> list[Path]:
    return sorted((Path(root) / layout.VIDEO_DIR).glob("seg_*" + layout.VIDEO_SUFFIX))


@dataclass(frozen=True)
class SegmentSpan:
    path: Path
    t0: float  # session seconds of its first frame
    t1: float  # of its last decodable frame


def _decode(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """(session seconds, uint8 [H,W,3] RGB) for every decodable frame of a segment, torn tail tolerated."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError):
        return
    try:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                yield float(frame.pts * stream.time_base), frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, EOFError):
            return  # a segment cut short by a kill ends here
    finally:
        container.close()


def segment_span(path: Path, first_only: bool = False) -> SegmentSpan | None:
    """First/last frame times from packet timestamps (no decoding); None if it holds no frame.

    ``first_only`` stops at the first packet (``t1`` is then that packet's time too).
    """
    import av

    first = last = None
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            for p in c.demux(s):
                if p.pts is None:
                    continue
                t = float(p.pts * s.time_base)
                first = t if first is None else min(first, t)
                last = t if last is None else max(last, t)
                if first_only:
                    break
    except (av.FFmpegError, OSError, IndexError, EOFError):
        pass
    return None if first is None else SegmentSpan(path, first, last)  # type: ignore[arg-type]


def _segment_spans(paths: list[Path]) -> list[SegmentSpan]:
    """Spans of consecutive segments: each ends where the next begins; only the last is read in full."""
    heads = [s for s in (segment_span(p, first_only=True) for p in paths[:-1]) if s is not None]
    last = segment_span(paths[-1]) if paths else None
    spans = heads + ([last] if last is not None else [])
    return [
        SegmentSpan(s.path, s.t0, spans[i + 1].t0 if i + 1 < len(spans) else s.t1)
        for i, s in enumerate(spans)
    ]


class VideoCursor:
    """Frame lookup by session time over the segments, decoding forward (replay and re-analysis).

    ``frame_at(t)`` returns the last frame at or before ``t`` (or the first one after it when ``t``
    precedes the recording). Moving forward keeps the decoder; moving back reopens one segment.
    Opening reads one packet per segment (plus the whole last one), so an hour opens quickly.
    """

    def __init__(self, root: Path) -> None:
        self.spans = _segment_spans(video_segments(root))
        self._seg = -1
        self._it: Iterator[tuple[float, np.ndarray]] | None = None
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
        """(frame time s, uint8 [H,W,3] RGB) or None when nothing was recorded."""
        if not self.spans:
            return None
        seg = self._segment_for(t)
        if seg != self._seg or self._cur is None or t < self._cur[0] - 1e-9:
            self._seg, self._it = seg, _decode(self.spans[seg].path)
            self._cur, self._next = next(self._it, None), None
            if self._cur is None:
                return None
        while True:
            if self._next is None:
                self._next = next(self._it, None) if self._it is not None else None
            if self._next is None or self._next[0] > t + 1e-9:
                return self._cur
            self._cur, self._next = self._next, None

    def frames_between(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """All recorded frames with t0 ≤ t < t1: (float64 [N] times, uint8 [N,H,W,3]); N may be 0."""
        times, frames = [], []
        for span in self.spans:
            if span.t1 < t0 or span.t0 >= t1:
                continue
            for t, rgb in _decode(span.path):
                if t0 - 1e-9 <= t < t1:
                    times.append(t)
                    frames.append(rgb)
        if not frames or len({f.shape for f in frames}) > 1:
            frames = [f for f in frames if f.shape == frames[-1].shape] if frames else []
            times = times[-len(frames) :] if frames else []
        return np.asarray(times, np.float64), (
            np.stack(frames) if frames else np.zeros((0, 2, 2, 3), np.uint8)
        )


# ---------------------------------------------------------------- one-file copy for other tools
def media_origin(root: Path) -> float:
    """Session time (s) where the recorded media start: the earlier of the first frame and the first
    audio sample; 0.0 when nothing was recorded. ``consolidate`` puts it at time 0 of its file."""
    starts = [s.t0 for s in audio_segments(root)]
    segs = video_segments(root)
    if segs:
        first = segment_span(segs[0], first_only=True)
        if first is not None:
            starts.append(first.t0)
    return min(starts) if starts else 0.0


def consolidate(root: Path, out: Path | None = None) -> Path | None:
    """Join the video segments (no re-encode) and the audio (AAC) into one mp4 for ELAN and players.

    Runs after recording (also on a bundle left by a crash). Returns the file, or None without video.
    Audio gaps are filled with silence so that audio stays aligned with the session clock.
    """
    import av

    root = Path(root)
    spans = _segment_spans(video_segments(root))
    if not spans:
        return None
    out = Path(out) if out else root / layout.RECORDING
    tmp = out.with_name(out.name + ".tmp.mp4")
    t_origin = media_origin(root)  # time 0 of the file: what ELAN / WebVTT exports count from
    with av.open(str(tmp), "w") as dst:
        with av.open(str(spans[0].path)) as first:
            vout = dst.add_stream_from_template(first.streams.video[0])
        asegs = audio_segments(root)
        aout = None
        if asegs:
            aout = dst.add_stream("aac", rate=MODEL_SAMPLE_RATE_HZ)
            aout.layout = "mono"
        last_dts = None
        for span in spans:
            with av.open(str(span.path)) as src:
                sin = src.streams.video[0]
                try:
                    for p in src.demux(sin):
                        if p.dts is None or p.size == 0:
                            continue
                        p.pts = round((float(p.pts * sin.time_base) - t_origin) / float(sin.time_base))
                        p.dts = round((float(p.dts * sin.time_base) - t_origin) / float(sin.time_base))
                        if last_dts is not None and p.dts <= last_dts:
                            continue
                        last_dts = p.dts
                        p.stream = vout
                        dst.mux(p)
                except (av.FFmpegError, EOFError):
                    pass  # torn tail of a killed recording
        if aout is not None:
            t_end = max(spans[-1].t1, max(s.t1 for s in asegs))
            chunk_s = 10.0
            t = t_origin
            pts = 0  # audio starts at the file's time 0 (silence until the first recorded block)
            while t < t_end:
                pcm, _ = read_audio(root, t, min(t_end, t + chunk_s))
                frame = av.AudioFrame.from_ndarray(pcm[None, :], format="flt", layout="mono")
                frame.sample_rate, frame.pts = MODEL_SAMPLE_RATE_HZ, pts
                pts += len(pcm)
                for p in aout.encode(frame):
                    dst.mux(p)
                t += chunk_s
            for p in aout.encode(None):
                dst.mux(p)
    os.replace(tmp, out)
    return out
