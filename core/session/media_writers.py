"""Recording media on the session writer thread: H.264 video in MPEG-TS segments, raw PCM audio segments,
still frames, and face blurring.

Why these formats: MPEG-TS has no header or index to finalise, so a segment cut short by a kill
decodes up to its last complete packet; the muxer runs with ``flush_packets`` and the encoder with
``tune=zerolatency`` (no lookahead, no B-frames), so every frame reaches the OS as soon as it is
encoded. Raw s16le PCM has no header at all: its sidecar JSON (start time, rate) is written before
the first sample, and the length follows from the file size. Segments also bound what a machine
crash (not a process kill) can lose: closed segments are fsynced.

Every file is opened through an ``Opener`` (default: unbuffered and refusing symlinks), every folder must be a
real folder. Writers run on the session writer thread only. Reading is ``core.session.media``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from core.faces import FaceDetector, FaceDetectorUnavailable
from core.safe_files import Opener, WritableFile, fsync_file, open_no_follow
from core.session import layout
from core.window import MODEL_SAMPLE_RATE_HZ

PTS_HZ = 90_000  # MPEG-TS clock: pts = round(session seconds × 90 kHz)
VIDEO_SEGMENT_S = 4.0  # a new segment (and keyframe) at least every 4 s: cheap backward seeks in replay
AUDIO_SEGMENT_S = 60.0
AUDIO_GAP_TOLERANCE_S = 0.05  # a larger gap or overlap between blocks starts a new audio segment
NOMINAL_FPS = 30  # encoder hint only; pts carry the real times
JPEG_QUALITY = 90

def default_opener(path: Path, mode: str) -> WritableFile:
    """Unbuffered binary files: every ``write`` is an OS write, so a killed process loses nothing written.

    A symlink at ``path`` is refused (``OSError``), never written through."""
    return open_no_follow(path, mode)


def real_folder(path: Path, parents: bool = False) -> Path:
    """Create the folder ``path`` if needed (and its parents with ``parents``); ``OSError`` if it is a symlink
    or not a folder. Without ``parents`` a recording folder removed meanwhile is not silently made again."""
    path.mkdir(parents=parents, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise NotADirectoryError(f"{path} is a symbolic link or not a folder; record into a new folder")
    return path


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


# ---------------------------------------------------------------- writers (writer thread)
class VideoSegmentWriter:
    """RGB frames at session times → H.264 MPEG-TS segments under ``root/video``."""

    def __init__(
        self, root: Path, opener: Opener, segment_s: float = VIDEO_SEGMENT_S, max_height: int | None = 720
    ) -> None:
        self._root, self._open, self._segment_s, self._max_height = root, opener, segment_s, max_height
        real_folder(root / layout.VIDEO_DIR, parents=True)
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
        real_folder(root / layout.AUDIO_DIR, parents=True)
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
            self._open_segment(t if self._file is None or abs(t - expected) > AUDIO_GAP_TOLERANCE_S else expected)
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
                json.dumps({"t0": t0, "sample_rate": self.sample_rate, "channels": 1, "format": "s16le"}).encode()
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
