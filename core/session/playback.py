"""Replay helpers that keep disk reads and decoding off the UI thread (Qt-free).

``FramePump``: the UI asks for the frame at a session time (newest request wins); a decoder thread
decodes it and leaves it in a one-slot mailbox that the UI's display timer reads. The same thread
loads a window's evidence (kept frames + recorded audio) on request.
``AudioFeeder``: plays recorded audio from a position through sounddevice when an output device
exists; a feeder thread reads 0.25 s chunks into a bounded queue and the device callback only copies.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.session.media import VideoCursor, read_audio
from core.session.reader import SessionReader
from core.window import MODEL_SAMPLE_RATE_HZ

log = logging.getLogger(__name__)

AUDIO_CHUNK_S = 0.25
AUDIO_QUEUE_CHUNKS = 8  # 2 s read ahead


class FramePump:
    """Decodes recorded video for replay on its own thread. ``request``/``latest`` from any thread."""

    def __init__(self, session_dir: Path) -> None:
        self._dir = Path(session_dir)
        self._cv = threading.Condition()
        self._want: float | None = None
        self._latest: tuple[float, float, np.ndarray] | None = None  # (requested t, frame t, rgb)
        self._want_evidence: dict[str, Any] | None = None
        self._evidence: Evidence | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="replay-frames", daemon=True)
        self._thread.start()

    def request(self, t: float) -> None:
        """Ask for the frame shown at session time ``t`` s; a newer request replaces an unserved one."""
        with self._cv:
            self._want = t
            self._cv.notify()

    def latest(self) -> tuple[float, float, np.ndarray] | None:
        """(requested t, frame t, uint8 [H,W,3] RGB) of the newest decoded frame, or None yet."""
        with self._cv:
            return self._latest

    def request_evidence(self, window: dict[str, Any]) -> None:
        """Ask for the kept frames and recorded audio of a logged window (newest request wins)."""
        with self._cv:
            self._want_evidence = window
            self._cv.notify()

    def latest_evidence(self) -> "Evidence | None":
        with self._cv:
            return self._evidence

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(5)

    def _run(self) -> None:
        cursor = VideoCursor(self._dir)  # built on this thread: opening demuxes the segments
        reader: SessionReader | None = None
        while True:
            with self._cv:
                while self._want is None and self._want_evidence is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                t, self._want = self._want, None
                wanted, self._want_evidence = self._want_evidence, None
            if wanted is not None:
                reader = reader or SessionReader(self._dir)
                evidence = _load_evidence(reader, wanted)
                with self._cv:
                    self._evidence = evidence
            if t is None:
                continue
            try:
                got = cursor.frame_at(t)
            except Exception:  # noqa: BLE001 — a damaged segment shows nothing rather than killing replay
                log.exception("decoding the recorded video at %.2f s failed", t)
                got = None
            if got is not None:
                with self._cv:
                    self._latest = (t, got[0], got[1])


@dataclass(frozen=True)
class Evidence:
    """What one logged window's analysis saw, as far as the bundle kept it."""

    window: dict[str, Any]
    frame_times: np.ndarray  # float64 [K] session seconds (K = 0 when no frames were kept)
    frames: np.ndarray  # uint8 [K,H,W,3]
    audio: np.ndarray | None  # float32 [S] 16 kHz for [t0, t1), None when none was recorded
    audio_covered: float  # fraction of the span with recorded audio


def _load_evidence(reader: SessionReader, window: dict[str, Any]) -> Evidence:
    got = reader.window_frames(window)
    times, frames = got if got is not None else (np.zeros(0), np.zeros((0, 2, 2, 3), np.uint8))
    audio, covered = reader.audio(window["t0"], window["t1"]) if reader.has_audio else (None, 0.0)
    return Evidence(window, times, frames, audio if covered > 0 else None, covered)


def output_device_available() -> bool:
    try:
        import sounddevice as sd

        return any(d.get("max_output_channels", 0) > 0 for d in sd.query_devices())
    except Exception:  # noqa: BLE001 — no PortAudio library, no devices: video only
        return False


class AudioFeeder:
    """Plays recorded audio from ``t`` until ``stop``; silently does nothing if no device opens.

    ``error`` holds why playback is unavailable (for the UI's note).
    """

    def __init__(self, session_dir: Path) -> None:
        self._dir = Path(session_dir)
        self._q: queue.Queue[np.ndarray] = queue.Queue(AUDIO_QUEUE_CHUNKS)
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending = np.zeros(0, np.float32)
        self.error: str | None = None

    def start(self, t: float) -> bool:
        self.stop()
        try:
            import sounddevice as sd

            self._stop.clear()
            self._q = queue.Queue(AUDIO_QUEUE_CHUNKS)
            self._pending = np.zeros(0, np.float32)
            self._stream = sd.OutputStream(
                samplerate=MODEL_SAMPLE_RATE_HZ, channels=1, dtype="float32", callback=self._callback
            )
        except Exception as e:  # noqa: BLE001 — PortAudioError, OSError: no device
            self.error = f"no audio output ({e}); playing video only"
            self._stream = None
            return False
        self._thread = threading.Thread(target=self._feed, args=(t,), name="replay-audio", daemon=True)
        self._thread.start()
        self._stream.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:  # noqa: BLE001
                pass
            self._stream = None
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def _feed(self, t: float) -> None:
        while not self._stop.is_set():
            pcm, _ = read_audio(self._dir, t, t + AUDIO_CHUNK_S)
            t += AUDIO_CHUNK_S
            while not self._stop.is_set():
                try:
                    self._q.put(pcm, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def _callback(self, out: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        buf = self._pending
        while len(buf) < frames:
            try:
                buf = np.concatenate([buf, self._q.get_nowait()])
            except queue.Empty:
                break
        n = min(frames, len(buf))
        out[:n, 0] = buf[:n]
        out[n:, 0] = 0.0  # underflow: silence rather than a stall
        self._pending = buf[n:]
