"""The session writer: one thread that appends a session bundle to disk behind bounded queues.

Threads: every public method may be called from any thread (capture threads, the model worker,
the UI) and returns without touching the disk, except ``start`` (creates the folder and writes the
small manifest) and ``stop(wait=True)`` (joins the thread). All file I/O happens on the writer thread.

Queues: log items (results, markers, events) go into their own queue and are never dropped; they
are written before any pending media. Media (frames, audio blocks) go into a queue bounded in
bytes (``RecordOptions.max_queue_bytes``); when it is full the new item is dropped and counted,
so a slow disk costs recorded media, never analysis results and never a blocked caller.

Durability: each log line is one unbuffered ``write`` (in the OS page cache at once, so it
survives a killed process); video packets and audio blocks are written as soon as they are
encoded. ``fsync`` runs on the log every ``fsync_interval_s`` and on every closed media segment,
so a machine crash loses at most that interval of log and the open segments. The worst case for a
killed process is what was still queued in memory: measured (tests/session/test_crash.py, 2-core
CPU shared with other jobs) 3–16 ms of video and audio for a paced 30 fps 320×240 recording, and
≤ 1 s of audio through the media-file source, which delivers audio in ~1 s interleave chunks. A
result reaches the log within milliseconds of ``write_result``.

Threads inside: a log thread (events, window frames, fsync) and a media thread (encoding and
writing video and audio), so a slow encoder or a stalled media write never delays the log.

Errors: the first failed write (disk full, folder gone, permission) stops the recording: the log
is cut back to its last complete line, files are closed, ``on_error(message)`` is called once on the
writer thread (or on the caller's thread from ``start``), and later calls become counted no-ops.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from core.results import WindowResult
from core.safe_files import Opener, WritableFile, fsync_file
from core.session import events as ev
from core.session import layout
from core.session.kept_frames import KeptFrames
from core.session.manifest import SessionManifest, write_manifest
from core.session.media_writers import (
    AudioSegmentWriter,
    FaceBlur,
    FaceBlurUnavailable,
    VideoSegmentWriter,
    default_opener,
)
from core.session.record_options import RecordOptions, WriterStats
from core.window import MODEL_SAMPLE_RATE_HZ, Window

__all__ = ["RecordOptions", "SessionWriter", "WriterStats"]

log = logging.getLogger(__name__)

DROP_SUMMARY_PERIOD_S = 5.0  # at most one media_dropped log line per period

IDLE, RECORDING, PAUSED, STOPPING, STOPPED, FAILED = (
    "idle",
    "recording",
    "paused",
    "stopping",
    "stopped",
    "failed",
)


class _CountedFile:
    """A file wrapper that counts bytes for ``WriterStats.bytes_written`` (writer thread only)."""

    def __init__(self, f: WritableFile, owner: SessionWriter) -> None:
        self._f, self._owner = f, owner

    def write(self, b: bytes | memoryview, /) -> int:
        n = self._f.write(b)
        n = len(b) if n is None else n
        if n != len(b):  # a short write on an unbuffered file: finish it or fail loudly
            view = memoryview(b)[n:]
            while view:
                k = self._f.write(view)
                if not k:
                    raise OSError(f"short write to {getattr(self._f, 'name', 'file')}")
                view = view[k:]
        self._owner._bytes += len(b)
        return len(b)

    def flush(self) -> None:
        self._f.flush()

    def fileno(self) -> int:
        return self._f.fileno()

    def truncate(self, size: int) -> None:
        truncate = getattr(self._f, "truncate", None)  # an opener's file need not have it (tests inject such)
        if truncate is None:
            raise AttributeError(f"{self._f!r} cannot be truncated")
        truncate(size)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> _CountedFile:  # noqa: PYI034 — private, never subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SessionWriter:
    """Records one session bundle (see ``core.session.layout``) from a running pipeline.

    ``clock()`` gives the session time in seconds for events stamped without ``t`` (default: wall
    time minus ``manifest.clock_origin_wall``). ``opener(path, mode)`` opens every file (tests
    inject failing files). ``face_detector`` overrides OpenCV's cascade for ``blur_faces``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        manifest: SessionManifest,
        options: RecordOptions | None = None,
        on_error: Callable[[str], None] | None = None,
        *,
        clock: Callable[[], float] | None = None,
        opener: Opener = default_opener,
        face_detector: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.options = options or RecordOptions()
        self.manifest = manifest.with_(recording=asdict(self.options))
        self._on_error = on_error
        self._clock = clock or (lambda: time.time() - manifest.clock_origin_wall)
        self._opener = opener
        self._face_detector = face_detector
        self._blur: FaceBlur | None = None
        self._cv = threading.Condition()
        self._log_q: deque[tuple[dict[str, Any], KeptFrames | None]] = deque()
        self._evidence_bytes = 0  # frames waiting in the log queue (bounded by max_queue_bytes)
        self._media_q: deque[tuple[str, np.ndarray, float]] = deque()
        self._media_bytes = 0
        self._state = IDLE
        self._error: str | None = None
        self._thread: threading.Thread | None = None  # the log thread (joins the media thread last)
        self._media_thread: threading.Thread | None = None
        self._seq = 0
        self._last_frame_t = -1e18
        # counters (writer thread, except the drop/skip counters which callers bump under _cv)
        self._bytes = 0
        self._frames = 0
        self._audio_samples = 0
        self._windows = 0
        self._lines = 0
        self._dropped_frames = 0
        self._dropped_audio = 0
        self._dropped_audio_samples = 0
        self._skipped_paused = 0
        self._dropped_window_frames = 0
        self._reported_drops = (0, 0)
        self._last_drop_note = 0.0
        self._log_file: Any = None
        self._log_good = 0
        self._video: VideoSegmentWriter | None = None
        self._audio: AudioSegmentWriter | None = None

    # ------------------------------------------------------------------ caller side (any thread)
    def start(self) -> bool:
        """Create the bundle and start the writer thread. False (and ``on_error``) if that fails."""
        if self._state != IDLE:
            return self._state in (RECORDING, PAUSED)
        try:
            if self.options.blur_faces and (self.options.record_video or self.options.window_frames):
                self._blur = FaceBlur(self._face_detector)
            if (self.directory / layout.MANIFEST).exists():
                raise FileExistsError(f"{self.directory} already holds a session; choose a new folder")
            self.directory.mkdir(parents=True, exist_ok=True)
            write_manifest(self.directory, self.manifest, opener=self._open)
            self._log_file = self._open(self.directory / layout.EVENTS, "ab")
        except (OSError, FaceBlurUnavailable) as e:
            self._fail(
                f"recording could not start in {self.directory}: {e}. "
                "Monitoring continues; pick a writable folder with free space and record again."
            )
            return False
        self._state = RECORDING
        self._enqueue_log({"type": ev.SESSION_START, "session_id": self.manifest.session_id})
        self._enqueue_log({"type": ev.RECORDING_START, "options": asdict(self.options)})
        self._media_thread = threading.Thread(target=self._run_media, name="session-media", daemon=True)
        self._thread = threading.Thread(target=self._run_log, name="session-log", daemon=True)
        self._media_thread.start()
        self._thread.start()
        return True

    def write_frame(self, rgb: np.ndarray, t: float) -> None:
        """Queue a video frame: uint8 [H,W,3] RGB at session time ``t`` s (copied; never blocks)."""
        if not self.options.record_video:
            return
        with self._cv:
            if not self._accepting_media():
                return
            if t - self._last_frame_t < 1.0 / self.options.max_video_fps - 1e-4:
                return  # above the recording frame rate: not a drop, a choice
            if self._media_bytes + rgb.nbytes > self.options.max_queue_bytes:
                self._dropped_frames += 1
                return
            self._last_frame_t = t
            self._media_q.append(("frame", np.array(rgb, dtype=np.uint8, copy=True), float(t)))
            self._media_bytes += rgb.nbytes
            self._cv.notify_all()

    def write_audio(self, block: np.ndarray, t: float) -> None:
        """Queue audio: float32 [S] mono 16 kHz, first sample at session time ``t`` s (copied)."""
        if not self.options.record_audio:
            return
        with self._cv:
            if not self._accepting_media():
                return
            if self._media_bytes + block.nbytes > self.options.max_queue_bytes:
                self._dropped_audio += 1
                self._dropped_audio_samples += len(block)
                return
            self._media_q.append(("audio", np.array(block, dtype=np.float32, copy=True), float(t)))
            self._media_bytes += block.nbytes
            self._cv.notify_all()

    def write_result(self, result: WindowResult, window: Window | None = None) -> None:
        """Log an analysed window; with ``window``, also keep the 8 frames the model sampled from it."""
        event = {
            "type": ev.WINDOW,
            "t": result.finished_at,
            **result.to_dict(),
            "wall_t1": result.wall_t0 + (result.t1 - result.t0),
        }
        evidence = None
        if window is not None and self.options.window_frames and len(window.frames):
            evidence = KeptFrames.of(window, result.frame_indices)
        with self._cv:
            if self._state == PAUSED:
                self._skipped_paused += 1
                return
            if evidence is not None and self._evidence_bytes + evidence.nbytes > self.options.max_queue_bytes:
                self._dropped_window_frames += 1
                event["frames_dropped"] = "the writer was behind; the result is kept, its frames are not"
                evidence = None
            if evidence is not None:
                self._evidence_bytes += evidence.nbytes
        self._enqueue_log(event, evidence)

    def write_event(self, kind: str, t: float | None = None, **fields: Any) -> None:
        """Log any event (``core.session.events`` types: device, superseded, dropped, error...)."""
        self._enqueue_log({"type": kind, **({"t": t} if t is not None else {}), **fields})

    def add_marker(self, kind: str, text: str = "", t: float | None = None) -> dict[str, Any]:
        """Log a marker (``event`` | ``exclude`` | ``custom``) at session time ``t`` (default: now)."""
        if kind not in ev.MARKER_KINDS:
            raise ValueError(f"unknown marker kind {kind!r}: use one of {', '.join(ev.MARKER_KINDS)}")
        marker = {
            "type": ev.MARKER,
            "kind": kind,
            "text": text,
            "t": self._clock() if t is None else float(t),
        }
        self._enqueue_log(marker)
        return dict(marker)  # a copy: the log thread owns the queued dict

    def pause(self, t: float | None = None) -> None:
        """Stop recording media and results until ``resume`` (markers and events are still logged)."""
        with self._cv:
            if self._state != RECORDING:
                return
            self._state = PAUSED
        self.write_event(ev.RECORDING_PAUSED, t=self._clock() if t is None else t)

    def resume(self, t: float | None = None) -> None:
        with self._cv:
            if self._state != PAUSED:
                return
            self._state = RECORDING
        self.write_event(ev.RECORDING_RESUMED, t=self._clock() if t is None else t)

    def stop(self, wait: bool = True, timeout: float | None = None) -> bool:
        """Drain the queues, close the files and end the log. Idempotent. True once fully stopped.

        With ``wait=False`` it returns at once (for a UI thread); poll ``stats.state``.
        """
        with self._cv:
            if self._state in (RECORDING, PAUSED):
                self._log_q.append(({"type": ev.RECORDING_STOP, "t": self._clock()}, None))
                self._state = STOPPING
                self._cv.notify_all()
        if wait and self._thread is not None:
            self._thread.join(timeout)
        return self._state in (STOPPED, FAILED, IDLE) and not (self._thread and self._thread.is_alive())

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def state(self) -> str:
        return self._state

    @property
    def stats(self) -> WriterStats:
        with self._cv:
            return WriterStats(
                state=self._state,
                queued_media=len(self._media_q),
                queued_media_bytes=self._media_bytes,
                queued_log=len(self._log_q),
                frames_written=self._frames,
                audio_s_written=self._audio_samples / MODEL_SAMPLE_RATE_HZ,
                windows_written=self._windows,
                events_written=self._lines,
                dropped_frames=self._dropped_frames,
                dropped_audio_blocks=self._dropped_audio,
                dropped_audio_s=self._dropped_audio_samples / MODEL_SAMPLE_RATE_HZ,
                skipped_paused=self._skipped_paused,
                dropped_window_frames=self._dropped_window_frames,
                bytes_written=self._bytes,
                error=self._error,
            )

    # ------------------------------------------------------------------ internals
    def _open(self, path: Path, mode: str) -> _CountedFile:
        return _CountedFile(self._opener(path, mode), self)

    def _accepting_media(self) -> bool:  # under _cv
        if self._state == PAUSED:
            self._skipped_paused += 1
            return False
        return self._state == RECORDING

    def _enqueue_log(self, event: dict[str, Any], evidence: KeptFrames | None = None) -> None:
        with self._cv:
            if self._state not in (RECORDING, PAUSED):  # not started, stopping (the log is closing) or failed
                if evidence is not None:
                    self._evidence_bytes -= evidence.nbytes
                return
            event.setdefault("t", self._clock())
            self._log_q.append((event, evidence))
            self._cv.notify_all()

    def _fail(self, message: str) -> None:
        with self._cv:
            first = self._error is None
            if first:
                self._error = message
            self._state = FAILED
            self._media_q.clear()
            self._media_bytes = 0
            self._log_q.clear()
            self._evidence_bytes = 0
            self._cv.notify_all()
        if first:
            log.error("%s", message)
            if self._on_error is not None:
                try:
                    self._on_error(message)
                except Exception:  # the callback's failure must not kill the writer's clean-up
                    log.exception("session writer error callback failed")

    def _run_media(self) -> None:
        """Media thread: encode and write frames and audio until stopped; then close the segments."""
        try:
            while True:
                with self._cv:
                    while not self._media_q and self._state not in (STOPPING, FAILED):
                        self._cv.wait()
                    if self._state == FAILED:
                        return
                    if not self._media_q:  # stopping and drained
                        break
                    kind, data, t = self._media_q.popleft()
                    self._media_bytes -= data.nbytes
                self._write_media(kind, data, t)
            self._close_media()
        except Exception as e:  # noqa: BLE001 — OSError (ENOSPC, EACCES...) or an encoder error wrapping one
            self._close_media(quiet=True)
            self._fail(self._failure_message("the video or audio", e))

    def _run_log(self) -> None:
        """Log thread: write events (and window frames) first-come; fsync periodically; end the log."""
        last_sync = time.monotonic()
        try:
            while True:
                with self._cv:
                    if not self._log_q and self._state not in (STOPPING, FAILED):
                        self._cv.wait(self.options.fsync_interval_s)
                    if self._state == FAILED:
                        break
                    items = list(self._log_q)
                    self._log_q.clear()
                    done = self._state == STOPPING and not items
                for event, evidence in items:
                    self._write_event(event, evidence)
                self._maybe_summarise_drops()
                if time.monotonic() - last_sync >= self.options.fsync_interval_s:
                    fsync_file(self._log_file)
                    last_sync = time.monotonic()
                if done:
                    assert self._media_thread is not None
                    self._media_thread.join()
                    if self._state != FAILED:
                        self._finish()
                    break
        except Exception as e:  # noqa: BLE001 — any failed write ends the recording with a message
            self._cut_log()
            self._fail(self._failure_message("the event log or window frames", e))
        else:
            if self._state == FAILED and self._log_file is not None:  # media failed: say so in the log if it can
                try:
                    self._write_event({"type": ev.ERROR, "t": self._clock(), "message": self._error}, None)
                    fsync_file(self._log_file)
                except Exception:  # noqa: BLE001 — the log is failing too: keep it whole, say nothing more
                    self._cut_log()
        if self._state == FAILED and self._log_file is not None:
            try:
                self._log_file.close()
            except OSError:
                pass

    def _failure_message(self, what: str, e: BaseException) -> str:
        return (
            f"recording stopped: could not write {what} in {self.directory}: {e}. "
            "Monitoring continues and everything recorded before this point is intact; "
            "free disk space or pick another folder, then record again."
        )

    def _write_event(self, event: dict[str, Any], evidence: KeptFrames | None) -> None:
        if evidence is not None:
            try:
                event["frames"] = evidence.write(
                    self.directory, event["window_id"], self.options.frame_format, self._open, self._blur
                )
            finally:
                with self._cv:
                    self._evidence_bytes -= evidence.nbytes
            event["n_frames"] = evidence.n_frames  # frames in the window the 8 were sampled from
        event = {
            "seq": self._seq,
            "type": event.pop("type"),
            "t": event.pop("t"),
            "wall": time.time(),
            **event,
        }
        line = ev.encode_line(event)
        self._log_file.write(line)
        self._log_good += len(line)
        self._seq += 1
        self._lines += 1
        if event["type"] == ev.WINDOW:
            self._windows += 1

    def _write_media(self, kind: str, data: np.ndarray, t: float) -> None:
        if kind == "frame":
            if self._video is None:
                self._video = VideoSegmentWriter(
                    self.directory, self._open, self.options.video_segment_s, self.options.max_video_height
                )
            if self._video.write(self._blur(data) if self._blur is not None else data, t):
                self._frames += 1
        else:
            if self._audio is None:
                self._audio = AudioSegmentWriter(self.directory, self._open)
            self._audio.write(data, t)
            self._audio_samples += len(data)

    def _maybe_summarise_drops(self, force: bool = False) -> None:
        now = (self._dropped_frames, self._dropped_audio)
        if now == self._reported_drops:
            return
        if not force and self._last_drop_note + DROP_SUMMARY_PERIOD_S > time.monotonic():
            return
        self._last_drop_note = time.monotonic()
        self._write_event(
            {
                "type": ev.MEDIA_DROPPED,
                "t": self._clock(),
                "frames": now[0] - self._reported_drops[0],
                "audio_blocks": now[1] - self._reported_drops[1],
                "total_frames": now[0],
                "total_audio_blocks": now[1],
            },
            None,
        )
        self._reported_drops = now

    def _close_media(self, quiet: bool = False) -> None:
        for w in (self._video, self._audio):
            if w is None:
                continue
            try:
                w.close()
            except Exception:
                if not quiet:
                    raise
        self._video = self._audio = None

    def _finish(self) -> None:
        self._close_media()
        self._maybe_summarise_drops(force=True)
        s = self.stats
        self._write_event({"type": ev.SESSION_END, "t": self._clock(), "stats": asdict(s) | {"state": STOPPED}}, None)
        fsync_file(self._log_file)
        self._log_file.close()
        self._log_file = None
        with self._cv:
            self._state = STOPPED

    def _cut_log(self) -> None:
        """After a failed write: drop a partial last line so the log stays a sequence of whole lines."""
        f = self._log_file
        if f is None:
            return
        try:
            f.truncate(self._log_good)
        except (OSError, AttributeError, ValueError):
            pass
