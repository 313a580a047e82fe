"""What the export formats share: the media origin, score and timing columns, marker drawing, notes."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence

from core.consistency import Consistency
from core.faces import FaceCheck
from core.session.media import media_origin as recorded_media_origin
from core.session.reader import SessionReader
from core.session.records import LoggedWindow

MARKER_SPAN_S = 0.2  # ELAN/VTT need a duration: markers are drawn as 200 ms spans
MAX_LEFT_OUT_LISTED = 20  # items named in a header or on stderr; the JSON export lists them all
MARKER_COLOURS = {"event": "#ffffff", "exclude": "#ff6b6b", "custom": "#4aa3ff"}  # as on the live timeline


def media_origin(reader: SessionReader) -> float:
    """Session time (s) at which the recorded media (and ``recording.mp4``) start; 0.0 without media. Time 0 of
    the exports laid over the media (ELAN, WebVTT)."""
    return recorded_media_origin(reader.files)


def utc_time(wall_s: float) -> _dt.datetime:
    """Unix seconds as an aware UTC datetime (any finite value a manifest may hold, on every platform)."""
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=wall_s)


def to_ms(t: float, origin: float) -> int:
    """Milliseconds from ``origin`` (never negative)."""
    return max(0, round((t - origin) * 1000))


def score_labels(windows: Iterable[LoggedWindow], label_set: tuple[str, ...] | None) -> list[str]:
    """Score columns: the session's label set, plus any other label that has a score."""
    names = list(label_set or ())
    seen = set(names)
    for w in windows:
        for k in w.analysis.scores or {}:
            if k not in seen:
                names.append(k)
                seen.add(k)
    return names


def timing_names(windows: Iterable[LoggedWindow]) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for w in windows:
        for k in w.analysis.timings:
            if k not in seen:
                names.append(k)
                seen.add(k)
    return names


def checks_of(w: LoggedWindow) -> Consistency:
    """A window's consistency checks (``core.consistency``): as logged (bounded by ``Consistency.from_dict``), else
    computed from its logged fields (logs written before the checks existed)."""
    return Consistency.from_dict(w.line.get("consistency")) or w.result.consistency


def faces_note(faces: tuple[int, ...] | None) -> str:
    note = FaceCheck(tuple(faces)).short_warning() if faces is not None else None
    return f" · {note}" if note else ""


def listed(items: Sequence[str]) -> list[str]:
    """``items`` for a header or a terminal: at most ``MAX_LEFT_OUT_LISTED`` of them, then a count of the rest."""
    if len(items) <= MAX_LEFT_OUT_LISTED:
        return list(items)
    return [*items[:MAX_LEFT_OUT_LISTED], f"... and {len(items) - MAX_LEFT_OUT_LISTED} more"]


def left_out_listed(reader: SessionReader) -> list[str]:
    """What the export had to leave out of the bundle (``SessionReader.left_out``), ``listed``."""
    return listed(reader.left_out())


APPROXIMATE_NOTE = ("made with the fast profile: approximate (int8 decoding, Whisper over the window's own seconds); "
                    "not the official computation")


def approximate(reader: SessionReader) -> int:
    """How many of the session's windows were analysed with the fast (approximate) profile."""
    return sum(w.analysis.profile != "exact" for w in reader.logged_windows)


def approximate_suffix(w: LoggedWindow) -> str:
    """`` (approximate)`` after the label of a window analysed with the fast profile; empty for an exact one."""
    return "" if w.analysis.profile == "exact" else " (approximate)"
