"""Reading a session bundle: manifest, event log (up to its last complete line) and media by time.

Works on a finished bundle, on one left by a crash, and on one still being written (``refresh``).
One reader per thread: the video cursor keeps decoder state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.attribution import Attribution, logged_attributions
from core.results import AnalysisResult, WindowResult
from core.session import events as ev
from core.session import layout
from core.session.manifest import SessionManifest, read_manifest
from core.session.media import VideoCursor, audio_segments, decode_image, read_audio, video_segments


class SessionReader:
    """A session folder opened for reading. Times are session seconds."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.manifest: SessionManifest = read_manifest(self.path)
        self._video: VideoCursor | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the log (a live recording grows)."""
        contents = ev.read_log(self.path / layout.EVENTS)
        self.events: tuple[dict[str, Any], ...] = contents.events
        self.torn_tail: bool = contents.torn_tail  # the last line was cut by a kill and skipped
        self.bad_lines: tuple[int, ...] = contents.bad_lines
        self.skipped_attributions = 0
        self._video = None

    # ------------------------------------------------------------------ the log
    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return ev.of_type(self.events, *types)

    @property
    def windows(self) -> list[dict[str, Any]]:
        """Analysed windows in time order (dicts: ``WindowResult.to_dict()`` + seq, wall, wall_t1, frames)."""
        return sorted(self.of_type(ev.WINDOW), key=lambda w: (w["t0"], w["window_id"]))

    @property
    def attributions(self) -> dict[int, Attribution]:
        """What the voice added (``core.attribution``): the newest attribution logged for each analysed window,
        by window id. Lines that do not check out are left out (``skipped_attributions`` counts them)."""
        found, self.skipped_attributions = logged_attributions(self.events, self.windows)
        return found

    @property
    def markers(self) -> list[dict[str, Any]]:
        return sorted(self.of_type(ev.MARKER), key=lambda m: m["t"])

    @property
    def complete(self) -> bool:
        """True when the recording was stopped cleanly (a ``session_end`` line exists)."""
        return bool(self.of_type(ev.SESSION_END))

    @property
    def labels(self) -> tuple[str, ...] | None:
        return self.manifest.labels

    def window_at(self, t: float) -> dict[str, Any] | None:
        """The latest-starting window whose span [t0, t1) holds ``t``."""
        hits = [w for w in self.windows if w["t0"] <= t < w["t1"]]
        return hits[-1] if hits else None

    # ------------------------------------------------------------------ media
    @property
    def has_video(self) -> bool:
        return bool(video_segments(self.path))

    @property
    def has_audio(self) -> bool:
        return bool(audio_segments(self.path))

    @property
    def video(self) -> VideoCursor:
        if self._video is None:
            self._video = VideoCursor(self.path)
        return self._video

    @property
    def span(self) -> tuple[float, float]:
        """(start, end) session seconds covered by windows, media and markers; (0, 0) if empty."""
        starts, ends = [], []
        for w in self.windows:
            starts.append(w["t0"])
            ends.append(w["t1"])
        if self.video.t0 is not None:
            starts.append(self.video.t0)
            ends.append(self.video.t1)
        for seg in audio_segments(self.path):
            starts.append(seg.t0)
            ends.append(seg.t1)
        ends += [m["t"] for m in self.markers]
        return (min(starts), max(ends)) if starts else (0.0, max(ends, default=0.0))

    def frame_at(self, t: float) -> tuple[float, np.ndarray] | None:
        """The recorded frame shown at session time ``t``: (its time, uint8 [H,W,3] RGB) or None."""
        return self.video.frame_at(t)

    def audio(self, t0: float, t1: float) -> tuple[np.ndarray, float]:
        """Recorded audio float32 [S] at 16 kHz for [t0, t1) (zeros where none) and the covered fraction."""
        return read_audio(self.path, t0, t1)

    def window_frames(self, window: dict[str, Any] | int) -> tuple[np.ndarray, np.ndarray] | None:
        """The frames the analysis of ``window`` used: (float64 [K] times, uint8 [K,H,W,3]) or None."""
        if isinstance(window, int):
            found = [w for w in self.windows if w["window_id"] == window]
            if not found:
                raise KeyError(f"window {window} is not in {self.path}")
            window = found[-1]
        refs = window.get("frames") or []
        if not refs:
            return None
        try:
            frames = [decode_image(self.path / r["file"]) for r in refs]
        except (OSError, ValueError):
            return None
        return np.array([r["t"] for r in refs], np.float64), np.stack(frames)


def window_result(window: dict[str, Any]) -> WindowResult:
    """Rebuild the ``WindowResult`` of a logged window (for views that take results)."""
    analysis = AnalysisResult(
        token_ids=tuple(window.get("token_ids") or ()),
        text=window.get("text") or "",
        think=window.get("think"),
        answer=window.get("answer"),
        label=window.get("label"),
        parse_status=window.get("parse_status") or "empty",
        label_set=window.get("label_set") or "free",
        modal=window.get("modal") or "video_audio",
        scores=window.get("scores"),
        timings=window.get("timings") or {},
    )
    return WindowResult(
        window_id=int(window["window_id"]),
        t0=float(window["t0"]),
        t1=float(window["t1"]),
        wall_t0=float(window.get("wall_t0") or 0.0),
        analysis=analysis,
        audio_status=window.get("audio_status") or "missing",
        finished_at=float(window.get("finished_at", window["t1"])),
        faces=tuple(int(c) for c in window["faces"]) if window.get("faces") is not None else None,
    )
