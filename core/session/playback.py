"""Replay helpers that keep disk reads and decoding off the UI thread (Qt-free).

``load_replay``: everything a replay window needs from the disk, read on any thread through the one checked
bundle reader; a re-analysis plays its original's media only under ``reader.source_session``'s rule.
``FramePump``: the UI asks for the frame at a session time (newest request wins); a decoder thread
decodes it and leaves it in a one-slot mailbox that the UI's display timer reads. The same thread
loads a window's evidence (kept frames + recorded audio) on request. A frame or a kept image that cannot be
decoded is answered with a placeholder (``None`` pixels and a reason); the thread goes on.
``AudioFeeder``: plays recorded audio from a position through sounddevice when an output device
exists; a feeder thread reads 0.25 s chunks into a bounded queue and the device callback only copies.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from core.session.errors import SessionFormatError
from core.session.media import VideoCursor, read_audio
from core.session.reader import SessionReader, source_session
from core.session.records import LoggedWindow
from core.window import MODEL_SAMPLE_RATE_HZ

log = logging.getLogger(__name__)

AUDIO_CHUNK_S = 0.25
AUDIO_QUEUE_CHUNKS = 8  # 2 s read ahead
UNDECODABLE = "this part of the recording cannot be decoded"


@dataclass(frozen=True)
class ReplayData:
    """Everything a replay window reads from the disk and the audio system before it can be built."""

    session_dir: Path
    reader: SessionReader | None = None
    media: SessionReader | None = None  # whose video/audio play: the session's, or a re-analysis's original
    source_windows: Mapping[int, LoggedWindow] = field(default_factory=dict)  # the original's (kept frames)
    comparison: str | None = None  # a re-analysis against its original
    audio_output: bool = False
    # what the window asks per display tick, found here once (each look lists and checks the bundle's files)
    has_video: bool = False  # of ``media``
    has_audio: bool = False  # of ``media``
    span: tuple[float, float] = (0.0, 0.0)  # ``reader.span``: session seconds to replay
    error: str | None = None
    left_out: str | None = None  # what the reader skipped (damaged lines, refused files), one line


def load_replay(session_dir: str | Path, audio_output: Callable[[], bool] | None = None) -> ReplayData:
    """Read a session for replay (any thread: it reads the log, and the original's for a re-analysis, and asks
    ``audio_output()`` (default: PortAudio) for an output device). A session that cannot be read gives
    ``error``, never an exception."""
    path = Path(session_dir)
    try:
        r = SessionReader(path)
    except (SessionFormatError, OSError) as e:
        return ReplayData(path, error=str(e))
    media, source_windows, comparison = r, {}, None
    original_dir = source_session(r)
    # a re-analysis keeps no media: play the original's, and show its kept frames as evidence
    if original_dir is not None and not (r.has_video or r.has_audio):
        try:
            media = SessionReader(original_dir)
            source_windows = {w.window_id: w for w in media.logged_windows}
        except (SessionFormatError, OSError):
            media = r
    if r.manifest.source_session:
        comparison = _comparison_note(r, media if media is not r else None, original_dir)
    probe = audio_output or output_device_available
    has_audio = media.has_audio
    return ReplayData(
        path,
        reader=r,
        media=media,
        source_windows=MappingProxyType(source_windows),
        comparison=comparison,
        audio_output=has_audio and probe(),
        has_video=media.has_video,
        has_audio=has_audio,
        span=r.span,
        left_out=r.problem_summary(),
    )


def _comparison_note(r: SessionReader, original: SessionReader | None, original_dir: Path | None) -> str:
    """How a re-analysis ``r`` differs from its original (read here unless given)."""
    from core.session.reanalysis import compare

    name = original_dir.name if original_dir is not None else Path(r.manifest.source_session or "").name
    try:
        if original is None:
            if original_dir is None:
                raise FileNotFoundError
            original = SessionReader(original_dir)
        cmp = compare(original, r)
    except (SessionFormatError, OSError):
        return f"re-analysis of {name} (the original is not available to compare: it is looked for next to this folder)"
    return f"re-analysis of {name}: {len(cmp.disagreements)} of {cmp.common} windows disagree with the original"


class FramePump:
    """Decodes recorded video for replay on its own thread. ``request``/``latest`` from any thread."""

    def __init__(self, session_dir: Path) -> None:
        self._dir = Path(session_dir)
        self._cv = threading.Condition()
        self._want: float | None = None
        self._latest: tuple[float, float | None, np.ndarray | None] | None = None  # (requested t, frame t, rgb)
        self._want_evidence: LoggedWindow | dict[str, Any] | None = None
        self._evidence: Evidence | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="replay-frames", daemon=True)
        self._thread.start()

    def request(self, t: float) -> None:
        """Ask for the frame shown at session time ``t`` s; a newer request replaces an unserved one."""
        with self._cv:
            self._want = t
            self._cv.notify()

    def latest(self) -> tuple[float, float | None, np.ndarray | None] | None:
        """(requested t, frame t, uint8 [H,W,3] RGB) of the newest answer, or None yet. A frame that cannot be
        decoded is answered ``(t, None, None)``: show a placeholder (``UNDECODABLE``)."""
        with self._cv:
            return self._latest

    def request_evidence(self, window: LoggedWindow | dict[str, Any]) -> None:
        """Ask for the kept frames and recorded audio of a logged window (newest request wins)."""
        with self._cv:
            self._want_evidence = window
            self._cv.notify()

    def latest_evidence(self) -> Evidence | None:
        with self._cv:
            return self._evidence

    @property
    def alive(self) -> bool:
        """True while the decoder thread runs (until ``stop``)."""
        return self._thread.is_alive()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(5)

    def _run(self) -> None:
        cursor: VideoCursor | None = None
        reader: SessionReader | None = None
        while True:
            with self._cv:
                while self._want is None and self._want_evidence is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    if cursor is not None:
                        cursor.close()
                    return
                t, self._want = self._want, None
                wanted, self._want_evidence = self._want_evidence, None
            if wanted is not None:
                try:
                    reader = reader or SessionReader(self._dir)
                    evidence = _load_evidence(reader, reader.logged(wanted))
                except Exception as e:  # noqa: BLE001 — a damaged bundle shows a note, never ends replay
                    log.warning("loading the evidence of a window of %s failed: %s", self._dir, e)
                    evidence = _no_evidence(wanted, str(e))
                with self._cv:
                    self._evidence = evidence
            if t is None:
                continue
            try:
                cursor = cursor or VideoCursor(self._dir)  # built on this thread: opening demuxes the segments
                got = cursor.frame_at(t)
            except Exception:  # a damaged segment shows a placeholder rather than killing replay
                log.exception("decoding the recorded video at %.2f s failed", t)
                got = None
            with self._cv:
                self._latest = (t, got[0], got[1]) if got is not None else (t, None, None)


@dataclass(frozen=True)
class Evidence:
    """What one logged window's analysis saw, as far as the bundle kept it."""

    window: LoggedWindow | None  # None only when the request itself was not a valid window
    frame_times: np.ndarray  # float64 [K] session seconds (K = 0 when no frames were kept or readable)
    frames: np.ndarray  # uint8 [K,H,W,3]
    audio: np.ndarray | None  # float32 [S] 16 kHz for [t0, t1), None when none was recorded
    audio_covered: float  # fraction of the span with recorded audio
    problem: str | None = None  # why kept frames or audio could not be shown

    @property
    def window_id(self) -> int | None:
        return self.window.window_id if self.window is not None else None


_NO_FRAMES = (np.zeros(0), np.zeros((0, 2, 2, 3), np.uint8))


def _load_evidence(reader: SessionReader, window: LoggedWindow) -> Evidence:
    problem = None
    try:
        got = reader.load_window_frames(window)
    except (OSError, SessionFormatError) as e:  # a missing, refused or undecodable kept frame
        got, problem = None, f"kept frames cannot be shown: {e}"
    times, frames = got if got is not None else _NO_FRAMES
    audio, covered = reader.audio(window.t0, window.t1)  # nothing recorded: covered 0, no audio shown
    return Evidence(window, times, frames, audio if covered > 0 else None, covered, problem)


def _no_evidence(wanted: LoggedWindow | dict[str, Any], problem: str) -> Evidence:
    window = wanted if isinstance(wanted, LoggedWindow) else None
    return Evidence(window, *_NO_FRAMES, None, 0.0, problem)


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
            except Exception as e:  # noqa: BLE001 — a device that vanished: nothing left to stop
                log.debug("closing the audio output failed: %s", e)
            self._stream = None
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def _feed(self, t: float) -> None:
        while not self._stop.is_set():
            try:
                pcm, _ = read_audio(self._dir, t, t + AUDIO_CHUNK_S)
            except (OSError, ValueError) as e:  # the bundle changed under replay: play silence, say it once
                if self.error is None:
                    self.error = f"recorded audio cannot be read ({e})"
                    log.warning("%s", self.error)
                pcm = np.zeros(round(AUDIO_CHUNK_S * MODEL_SAMPLE_RATE_HZ), np.float32)
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
