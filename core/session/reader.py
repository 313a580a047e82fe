"""Reading a session bundle: the one boundary every consumer of a bundle goes through.

Bundles are untrusted input. ``SessionReader`` checks the manifest (``manifest.read_manifest``) and each
line of the event log (``records.check_log``) once, into frozen typed values; a line that does not check
out is skipped and counted in ``skipped``, never a traceback later. Every file is opened through
``BundleFiles``: paths stay inside the bundle, no symlink is followed, only regular files are read, each
within a size cap. Exports, replay, re-analysis and the desktop's open dialog all read through here.

Works on a finished bundle, on one left by a crash, and on one still being written (``refresh``).
One reader per thread: the video cursor keeps decoder state.

The original of a re-analysis (``manifest.source_session``) is only ever looked for as a sibling folder
of the re-analysis with the recorded folder name and the recorded session id (:func:`source_session`):
a bundle cannot make the app read an arbitrary folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from core.attribution import Attribution, logged_attributions
from core.results import WindowResult
from core.session import events as ev
from core.session import layout
from core.session.bundle_files import MAX_LOG_BYTES, BundleFiles
from core.session.errors import BundleFileError, SessionFormatError
from core.session.manifest import SessionManifest, read_manifest
from core.session.media import VideoCursor, audio_segments, decode_image, read_audio, video_segments
from core.session.records import (
    LoggedMarker,
    LoggedWindow,
    SkippedLine,
    check_event,
    check_log,
    window_of,
)

MAX_PROBLEMS_SHOWN = 5  # problems listed in a one-line summary; the rest are counted


class SessionReader:
    """A session folder opened for reading. Times are session seconds.

    ``logged_windows`` / ``logged_markers`` are the typed values (time order); ``windows`` / ``markers`` give
    the same lines as plain dicts (JSON values) for scripts and the JSON export.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.files = BundleFiles(self.path)
        self.manifest: SessionManifest = read_manifest(self.path)
        self._video: VideoCursor | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the log (a live recording grows)."""
        log = check_log(self._log_bytes())
        self.events: tuple[dict[str, Any], ...] = log.events
        self.torn_tail: bool = log.torn_tail  # the last line was cut by a kill and skipped
        self.skipped: tuple[SkippedLine, ...] = log.skipped
        self.logged_windows: tuple[LoggedWindow, ...] = tuple(sorted(log.windows, key=lambda w: (w.t0, w.window_id)))
        self.logged_markers: tuple[LoggedMarker, ...] = tuple(sorted(log.markers, key=lambda m: m.t))
        self._by_id = {w.window_id: w for w in self.logged_windows}  # the latest-starting one per id
        self.skipped_attributions = 0
        if self._video is not None:
            self._video.close()
        self._video = None

    def _log_bytes(self) -> bytes:
        try:
            return self.files.read(layout.EVENTS, MAX_LOG_BYTES)
        except FileNotFoundError:
            return b""  # a session that has just started
        except SessionFormatError as e:
            raise SessionFormatError(f"{e}; the session log cannot be read") from None
        except OSError as e:
            raise SessionFormatError(
                f"{self.path / layout.EVENTS} cannot be read ({e.strerror or e}); check the folder"
            ) from None

    # ------------------------------------------------------------------ the log
    @property
    def bad_lines(self) -> tuple[int, ...]:
        """1-based numbers of the complete lines that were skipped (see ``skipped`` for why)."""
        return tuple(s.line for s in self.skipped)

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return ev.of_type(self.events, *types)

    @property
    def windows(self) -> list[dict[str, Any]]:
        """Analysed windows in time order as logged (dicts: ``WindowResult.to_dict()`` + seq, wall, frames)."""
        return [w.to_dict() for w in self.logged_windows]

    @property
    def attributions(self) -> dict[int, Attribution]:
        """What the voice added (``core.attribution``): the newest attribution logged for each analysed window,
        by window id. Lines that do not check out are left out (``skipped_attributions`` counts them)."""
        found, self.skipped_attributions = logged_attributions(self.events, self.windows)
        return found

    @property
    def markers(self) -> list[dict[str, Any]]:
        return [m.to_dict() for m in self.logged_markers]

    @property
    def complete(self) -> bool:
        """True when the recording was stopped cleanly (a ``session_end`` line exists)."""
        return bool(self.of_type(ev.SESSION_END))

    @property
    def labels(self) -> tuple[str, ...] | None:
        return self.manifest.labels

    def window_at(self, t: float) -> LoggedWindow | None:
        """The latest-starting window whose span [t0, t1) holds ``t``."""
        hits = [w for w in self.logged_windows if w.t0 <= t < w.t1]
        return hits[-1] if hits else None

    def left_out(self) -> tuple[str, ...]:
        """What was left out of the bundle while reading, one line each: the skipped log lines, then the
        unusable files (not a torn tail)."""
        return (*(f"{layout.EVENTS} {s}" for s in self.skipped), *self.files.notes)

    def problems(self) -> tuple[str, ...]:
        """What was left out while reading: a torn tail, skipped log lines and unusable files, one line each."""
        torn = ("the last log line was cut short (the recording was killed) and left out",) if self.torn_tail else ()
        return (*torn, *self.left_out())

    def problem_summary(self) -> str | None:
        """One line on what was left out (skipped lines and files, not a torn tail), or None."""
        items = self.left_out()
        if not items:
            return None
        lines, files = len(self.skipped), len(items) - len(self.skipped)
        head = " and ".join(part for part in (lines and f"{lines} log line(s)", files and f"{files} file(s)") if part)
        shown = "; ".join(items[:MAX_PROBLEMS_SHOWN]) + ("; ..." if len(items) > MAX_PROBLEMS_SHOWN else "")
        return f"{head} of this bundle could not be used and were left out: {shown}"

    # ------------------------------------------------------------------ media
    @property
    def has_video(self) -> bool:
        return bool(video_segments(self.files))

    @property
    def has_audio(self) -> bool:
        return bool(audio_segments(self.files))

    @property
    def video(self) -> VideoCursor:
        if self._video is None:
            self._video = VideoCursor(self.files)
        return self._video

    @property
    def span(self) -> tuple[float, float]:
        """(start, end) session seconds covered by windows, media and markers; (0, 0) if empty."""
        starts, ends = [], []
        for w in self.logged_windows:
            starts.append(w.t0)
            ends.append(w.t1)
        v0, v1 = self.video.t0, self.video.t1
        if v0 is not None and v1 is not None:  # both or neither: the recording has video segments or not
            starts.append(v0)
            ends.append(v1)
        for seg in audio_segments(self.files):
            starts.append(seg.t0)
            ends.append(seg.t1)
        ends += [m.t for m in self.logged_markers]
        return (min(starts), max(ends)) if starts else (0.0, max(ends, default=0.0))

    def frame_at(self, t: float) -> tuple[float, np.ndarray] | None:
        """The recorded frame shown at session time ``t``: (its time, uint8 [H,W,3] RGB) or None."""
        return self.video.frame_at(t)

    def audio(self, t0: float, t1: float) -> tuple[np.ndarray, float]:
        """Recorded audio float32 [S] at 16 kHz for [t0, t1) (zeros where none) and the covered fraction."""
        return read_audio(self.files, t0, t1)

    def logged(self, window: LoggedWindow | dict[str, Any] | int) -> LoggedWindow:
        """The typed window for a window id, a dict from ``windows`` or a typed window (``KeyError`` if the
        id is not in the log, :class:`SessionFormatError` for a dict that does not check out)."""
        if isinstance(window, LoggedWindow):
            return window
        if isinstance(window, dict):
            try:
                return window_of(check_event(window))
            except ValueError as e:
                raise SessionFormatError(f"not a window of {self.path}: {e}") from None
        if window not in self._by_id:
            raise KeyError(f"window {window} is not in {self.path}")
        return self._by_id[window]

    def load_window_frames(self, window: LoggedWindow | dict[str, Any] | int) -> tuple[np.ndarray, np.ndarray] | None:
        """The frames the analysis of ``window`` used: (float64 [K] times, uint8 [K,H,W,3]); None when none were
        kept. Raises ``FileNotFoundError`` or :class:`BundleFileError` (with the reason) when they cannot be
        read."""
        w = self.logged(window)
        if not w.frames:
            return None
        frames = [decode_image(self.files, ref.file) for ref in w.frames]
        if len({f.shape for f in frames}) > 1:
            raise BundleFileError(f"the kept frames of window {w.window_id} differ in size")
        return np.array([ref.t for ref in w.frames], np.float64), np.stack(frames)

    def window_frames(self, window: LoggedWindow | dict[str, Any] | int) -> tuple[np.ndarray, np.ndarray] | None:
        """As :meth:`load_window_frames`, but None (and a note in ``problems``) when they cannot be read."""
        try:
            return self.load_window_frames(window)
        except (OSError, BundleFileError) as e:
            self.files.note(f"frames of window {self.logged(window).window_id}", str(e))
            return None

    def close(self) -> None:
        """Close the video segment being decoded (readers also close when garbage collected)."""
        if self._video is not None:
            self._video.close()


def window_result(window: LoggedWindow | dict[str, Any]) -> WindowResult:
    """The ``WindowResult`` of a logged window (for views that take results)."""
    return (window if isinstance(window, LoggedWindow) else window_of(check_event(window))).result


def source_session(reader: SessionReader) -> Path | None:
    """The original of the re-analysis ``reader``, when it can be trusted to be one; else None.

    The rule (see SECURITY.md): only the last name of ``manifest.source_session`` is used, and only as a
    sibling folder of the re-analysis (where ``reanalyze`` puts it by default); that folder must be a real
    folder (not a symlink) holding a session whose id is ``manifest.source_session_id``. So a bundle can
    name its original, but cannot make the app read any other folder. Reads that folder's manifest only.
    """
    m = reader.manifest
    if not m.source_session or not m.source_session_id:
        return None
    name = m.source_session.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or any(ord(c) < 32 for c in name):
        return None
    parent = reader.path.absolute().parent
    candidate = parent / name
    if candidate == reader.path.absolute():
        return None
    try:
        if not stat.S_ISDIR(os.lstat(candidate).st_mode):
            return None
        original = read_manifest(candidate)
    except (OSError, SessionFormatError):
        return None
    return candidate if original.session_id == m.source_session_id else None
