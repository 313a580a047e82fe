"""Test media made on the spot with PyAV: short mp4 clips with or without an audio track, WAV files, and damaged
files. Everything is written under the caller's directory (use pytest's ``tmp_path``).

Used by capture, model, session and evaluation tests; no test depends on files outside the repository.
"""

from __future__ import annotations

import fractions
import wave
from pathlib import Path

import av
import numpy as np

SR = 16_000


def tone(seconds: float, freq_hz: float = 440.0, rate_hz: int = SR, level: float = 0.3) -> np.ndarray:
    """float32 [n] sine."""
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    return (level * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def chirp(
    seconds: float, f0: float = 200.0, f1: float = 2000.0, rate_hz: int = SR, level: float = 0.3
) -> np.ndarray:
    """float32 [n] linear sweep from f0 to f1: every offset is unique, so cross-correlation finds timing exactly."""
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    k = (f1 - f0) / seconds
    return (level * np.sin(2 * np.pi * (f0 * t + 0.5 * k * t * t))).astype(np.float32)


def frame_with_index(i: int, width: int, height: int) -> np.ndarray:
    """uint8 [H, W, 3] RGB whose mean brightness encodes ``i`` (survives lossy codecs): value 20 + 8 * (i % 28)."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = 20 + 8 * (i % 28)
    frame[: height // 4, : width // 4] = (255, 0, 0)  # a red corner to check RGB order
    return frame


def index_of_frame(frame: np.ndarray) -> int:
    """Inverse of ``frame_with_index`` (modulo 28), read from the bottom-right quarter."""
    h, w = frame.shape[:2]
    return round((float(frame[h // 2 :, w // 2 :].mean()) - 20) / 8) % 28


def make_video(
    path: str | Path,
    seconds: float = 2.0,
    fps: int = 15,
    size: tuple[int, int] = (160, 120),
    audio: np.ndarray | None | bool = True,
    audio_rate_hz: int = 44_100,
    audio_channels: int = 2,
    codec: str = "mpeg4",
) -> Path:
    """Write an mp4: frames from ``frame_with_index``; audio True (a 440 Hz tone), an array (mono float32 at
    ``audio_rate_hz``), or None/False (no audio track). ``codec`` mpeg4 (OpenCV and PyAV read it) or h264."""
    path = Path(path)
    width, height = size
    if audio is True:
        audio = tone(seconds, rate_hz=audio_rate_hz)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"qscale": "2"} if codec == "mpeg4" else {}
        as_ = None
        if audio is not None and audio is not False:
            as_ = out.add_stream("aac", rate=audio_rate_hz)
            as_.layout = "stereo" if audio_channels == 2 else "mono"
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(frame_with_index(i, width, height), format="rgb24")
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            mono = np.asarray(audio, np.float32)
            planar = np.repeat(mono[None, :], audio_channels, axis=0)
            chunk = 1024
            for i in range(0, planar.shape[1], chunk):
                piece = np.ascontiguousarray(planar[:, i : i + chunk])
                frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=as_.layout.name)
                frame.sample_rate = audio_rate_hz
                frame.pts = i
                frame.time_base = fractions.Fraction(1, audio_rate_hz)
                for packet in as_.encode(frame):
                    out.mux(packet)
            for packet in as_.encode():
                out.mux(packet)
    return path


def make_wav(path: str | Path, samples: np.ndarray, rate_hz: int = SR) -> Path:
    """16-bit mono WAV of float32 samples in [-1, 1]."""
    path = Path(path)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(pcm.tobytes())
    return path


def make_corrupt(path: str | Path, kind: str = "garbage", source: Path | None = None) -> Path:
    """A file that is not valid media: ``garbage`` (random bytes with an .mp4 name), ``empty`` (0 bytes), or
    ``truncated`` (the first third of ``source``)."""
    path = Path(path)
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        assert source is not None, "truncated needs a source file"
        data = Path(source).read_bytes()
        path.write_bytes(data[: len(data) // 3])
    else:
        raise ValueError(kind)
    return path
