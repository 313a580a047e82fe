"""Typed, checked values of a session log's lines: what every consumer of a bundle works with.

A line of ``events.jsonl`` came from disk, perhaps from someone else's machine: any field may be missing,
of the wrong type, NaN, huge or a path that leaves the bundle. The reader checks each line once, here,
and turns it into a frozen value (:class:`LoggedWindow`, :class:`LoggedMarker`) or a :class:`LineError`
naming the first field that does not fit; the line is then skipped and counted, never a traceback later.

Ranges are generous (a day-long window, 115 days of session) but finite, so that arithmetic on the values
cannot overflow, allocate without bound or loop for ever. Text is kept as written (exports escape it
for their format); kept-frame paths are checked to stay inside the bundle's ``windows/`` folder.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeGuard

from core import labels as _labels
from core.model.profiles import EXACT, PROFILES
from core.results import AnalysisResult, WindowResult
from core.session import events as ev
from core.session import layout, strict_json

MAX_SESSION_S = 1e7  # |session time|, seconds: 115 days
MAX_WINDOW_SPAN_S = 600.0  # a window's length (the model takes 30 s at most): bounds what reading it costs
MAX_LINE_BYTES = 4 << 20
MAX_WALL_S = 1e11  # |unix time|, seconds: year 5138
MAX_TEXT_CHARS = 1 << 20  # a window's generated text or reasoning
MAX_SHORT_CHARS = 256  # labels, statuses, kinds, names
MAX_TOKENS = 1 << 16
MAX_TOKEN_ID = (1 << 31) - 1
MAX_ENTRIES = 256  # scores and timings per window
MAX_KEPT_FRAMES = 64
MAX_COUNT = 1 << 31  # ids, frame counts, sequence numbers
# a kept frame: an image with a plain name in windows/ (no "..", no "/", no absolute path can pass)
_KEPT_FRAME_DIR = layout.WINDOWS_DIR + "/"
_KEPT_FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_REQUIRED = object()


class LineError(ValueError):
    """A log line that does not check out; the message names the field."""


@dataclass(frozen=True)
class SkippedLine:
    """A complete line of the log that was left out, and why."""

    line: int  # 1-based line number in events.jsonl
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class KeptFrame:
    """One frame an analysis used, kept in the bundle."""

    file: str  # bundle-relative POSIX path, checked: inside ``windows/``, plain names, an image suffix
    t: float  # session seconds
    index: int  # position in the window's frames


@dataclass(frozen=True)
class LoggedWindow:
    """An analysed window as logged: the result, the frames kept for it, and the checked line itself."""

    result: WindowResult
    frames: tuple[KeptFrame, ...] = ()
    n_frames: int | None = None  # frames in the window the kept ones were sampled from
    line: Mapping[str, Any] = field(default_factory=dict)  # the checked line, JSON values (read-only)

    @property
    def window_id(self) -> int:
        return self.result.window_id

    @property
    def t0(self) -> float:
        return self.result.t0

    @property
    def t1(self) -> float:
        return self.result.t1

    @property
    def analysis(self) -> AnalysisResult:
        return self.result.analysis

    @property
    def label(self) -> str | None:
        return self.result.analysis.label

    @property
    def shown_label(self) -> str:
        """The label, or the parse status in brackets when there is none: ``(out_of_set)``."""
        return self.label or f"({self.result.analysis.parse_status})"

    @property
    def reasoning(self) -> str:
        """The ``<think>`` text, else the whole generated text."""
        a = self.result.analysis
        return a.think or a.text or ""

    @property
    def latency_s(self) -> float:
        """Seconds from the window's end to its result."""
        return self.result.finished_at - self.result.t1

    def with_frames(self, frames: tuple[KeptFrame, ...], n_frames: int | None) -> LoggedWindow:
        """This window showing other kept frames (a re-analysis shows its original's)."""
        return replace(self, frames=frames, n_frames=n_frames)

    def to_dict(self) -> dict[str, Any]:
        """The line as logged (a shallow copy): ``WindowResult.to_dict()`` + seq, t, wall, frames..."""
        return dict(self.line)


@dataclass(frozen=True)
class LoggedMarker:
    kind: str  # "event" | "exclude" | "custom" (other kinds are shown as written)
    t: float  # session seconds
    text: str = ""
    line: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.line)


# ---------------------------------------------------------------- field checks
def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(line: Mapping[str, Any], key: str, limit: float, default: Any = _REQUIRED) -> float:
    value = line.get(key)
    if value is None:  # absent or null: the writer turns a NaN into null
        if default is _REQUIRED:
            raise LineError(f"{key!r} is missing")
        return default
    kind = type(value)
    if (kind is float or kind is int) and -limit <= value <= limit:  # NaN and ±inf fail the comparison
        return float(value)
    if kind is float or kind is int:
        raise LineError(f"{key!r} is {value:g}, not a finite number within ±{limit:g}")
    raise LineError(f"{key!r} is {_shown(value)}, not a number")


def _count(line: Mapping[str, Any], key: str, default: Any = _REQUIRED) -> int:
    value = line.get(key)
    if value is None:  # absent or null: the writer turns a NaN into null
        if default is _REQUIRED:
            raise LineError(f"{key!r} is missing")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise LineError(f"{key!r} is {_shown(value)}, not a whole number in [0, {MAX_COUNT}]")
    return value


def _text(line: Mapping[str, Any], key: str, limit: int, default: Any = _REQUIRED) -> Any:
    value = line.get(key)
    if value is None:  # absent or null: the writer turns a NaN into null
        if default is _REQUIRED:
            raise LineError(f"{key!r} is missing")
        return default
    if not isinstance(value, str) or len(value) > limit:
        raise LineError(f"{key!r} is {_shown(value)}, not text of at most {limit} characters")
    return value


def _optional_text(line: Mapping[str, Any], key: str, limit: int) -> str | None:
    return _text(line, key, limit, None)


def _number_map(line: Mapping[str, Any], key: str) -> dict[str, float] | None:
    value = line.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_ENTRIES:
        raise LineError(f"{key!r} is {_shown(value)}, not an object of at most {MAX_ENTRIES} numbers")
    out = {}
    for name in value:
        if len(name) > MAX_SHORT_CHARS:
            raise LineError(f"{key!r} has a name longer than {MAX_SHORT_CHARS} characters")
        number = _number(value, name, MAX_SESSION_S, None)  # null: the writer's NaN, left out as "no value"
        if number is not None:
            out[name] = number
    return out


def _token_ids(line: Mapping[str, Any]) -> tuple[int, ...]:
    value = line.get("token_ids")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_TOKENS:
        raise LineError(f"'token_ids' is {_shown(value)}, not a list of at most {MAX_TOKENS} ids")
    if value and (set(map(type, value)) != {int} or min(value) < 0 or max(value) > MAX_TOKEN_ID):
        raise LineError("'token_ids' holds something other than token ids")
    return tuple(value)


def _faces(line: Mapping[str, Any]) -> tuple[int, ...] | None:
    value = line.get("faces")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_KEPT_FRAMES:
        raise LineError(f"'faces' is {_shown(value)}, not a list of face counts")
    if value and (set(map(type, value)) != {int} or min(value) < 0 or max(value) > MAX_COUNT):
        raise LineError("'faces' holds something other than face counts")
    return tuple(value)


def _label_set(line: Mapping[str, Any]) -> str:
    name = _text(line, "label_set", MAX_SHORT_CHARS, _labels.FREE)
    try:
        _labels.label_set(name)
    except ValueError as e:
        raise LineError(str(e)) from None
    return name


def _plain_frame_file(file: Any) -> TypeGuard[str]:
    return (
        isinstance(file, str)
        and len(file) <= MAX_SHORT_CHARS
        and file.startswith(_KEPT_FRAME_DIR)
        and file.endswith(_KEPT_FRAME_SUFFIXES)
        and _PLAIN_NAME.fullmatch(file, len(_KEPT_FRAME_DIR)) is not None
        and file[len(_KEPT_FRAME_DIR) :] not in _KEPT_FRAME_SUFFIXES  # a name before the suffix
    )


def kept_frame(ref: Any) -> KeptFrame:
    """A checked ``{"file", "t", "index"}`` reference to a kept frame."""
    if not isinstance(ref, dict):
        raise LineError(f"a kept frame is {_shown(ref)}, not an object")
    file, t, index = ref.get("file"), ref.get("t"), ref.get("index")
    # the common case in one expression (a log holds 8 of these per window); any doubt takes the checks below
    if (
        type(index) is int
        and 0 <= index <= MAX_COUNT
        and (type(t) is float or type(t) is int)
        and -MAX_SESSION_S <= t <= MAX_SESSION_S
        and _plain_frame_file(file)
    ):
        return KeptFrame(file, float(t), index)
    if not _plain_frame_file(file):
        raise LineError(f"kept frame {_shown(file)} is not an image with a plain name in {layout.WINDOWS_DIR}/")
    return KeptFrame(file, _number(ref, "t", MAX_SESSION_S), _count(ref, "index"))


def _kept_frames(line: Mapping[str, Any]) -> tuple[KeptFrame, ...]:
    value = line.get("frames")
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_KEPT_FRAMES:
        raise LineError(f"'frames' is {_shown(value)}, not a list of at most {MAX_KEPT_FRAMES} kept frames")
    return tuple(kept_frame(ref) for ref in value)


# ---------------------------------------------------------------- lines
def check_event(obj: Any) -> dict[str, Any]:
    """The fields every line has: ``type`` (text) and ``t`` (finite session seconds); ``seq``/``wall`` if there.

    Returns ``obj`` itself (a dict) when it fits."""
    if not isinstance(obj, dict):
        raise LineError(f"the line holds {type(obj).__name__}, not a JSON object")
    _text(obj, "type", MAX_SHORT_CHARS)
    _number(obj, "t", MAX_SESSION_S)
    _count(obj, "seq", None)
    _number(obj, "wall", MAX_WALL_S, None)
    return obj


def window_of(line: Mapping[str, Any]) -> LoggedWindow:
    """The typed window of a ``window`` line (already through :func:`check_event`)."""
    t0 = _number(line, "t0", MAX_SESSION_S)
    t1 = _number(line, "t1", MAX_SESSION_S)
    if not 0.0 <= t1 - t0 <= MAX_WINDOW_SPAN_S:
        raise LineError(f"the window [{t0:g}, {t1:g}] s is not a span of 0 to {MAX_WINDOW_SPAN_S:g} s")
    analysis = AnalysisResult(
        token_ids=_token_ids(line),
        text=_text(line, "text", MAX_TEXT_CHARS, ""),
        think=_optional_text(line, "think", MAX_TEXT_CHARS),
        answer=_optional_text(line, "answer", MAX_TEXT_CHARS),
        label=_optional_text(line, "label", MAX_SHORT_CHARS),
        parse_status=_text(line, "parse_status", MAX_SHORT_CHARS, "empty"),
        label_set=_label_set(line),
        modal=_text(line, "modal", MAX_SHORT_CHARS, "video_audio"),
        scores=_number_map(line, "scores"),
        timings=_number_map(line, "timings") or {},
        profile=_profile(line),
    )
    result = WindowResult(
        window_id=_count(line, "window_id"),
        t0=t0,
        t1=t1,
        wall_t0=_number(line, "wall_t0", MAX_WALL_S, 0.0),
        analysis=analysis,
        audio_status=_text(line, "audio_status", MAX_SHORT_CHARS, "missing"),
        finished_at=_number(line, "finished_at", MAX_SESSION_S, t1),
        faces=_faces(line),
    )
    _number(line, "wall_t1", MAX_WALL_S, None)
    n_frames = _count(line, "n_frames", None)
    return LoggedWindow(result, _kept_frames(line), n_frames, MappingProxyType(dict(line)))


def marker_of(line: Mapping[str, Any]) -> LoggedMarker:
    """The typed marker of a ``marker`` line (already through :func:`check_event`)."""
    kind = _text(line, "kind", MAX_SHORT_CHARS)
    if not kind.strip():
        raise LineError("the marker's 'kind' is empty")
    text = _text(line, "text", MAX_TEXT_CHARS, "")
    return LoggedMarker(kind, float(line["t"]), text, MappingProxyType(dict(line)))


TYPED: dict[str, Callable[[Mapping[str, Any]], Any]] = {ev.WINDOW: window_of, ev.MARKER: marker_of}


# ---------------------------------------------------------------- the whole log
@dataclass(frozen=True)
class CheckedLog:
    """``events.jsonl`` up to its last complete line, every line checked once."""

    events: tuple[dict[str, Any], ...]  # every line that checked out, in file order (JSON values)
    windows: tuple[LoggedWindow, ...]  # the ``window`` lines among them, in file order
    markers: tuple[LoggedMarker, ...]
    skipped: tuple[SkippedLine, ...]  # complete lines left out (bad JSON, not UTF-8, a field that does not fit)
    torn_tail: bool  # the data ended in an incomplete line (a killed writer); it was left out


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """No cyclic garbage collection while a log is turned into values: they hold no cycles, and a collection
    every few hundred new objects would otherwise double the time to open a long session."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_log(data: bytes) -> CheckedLog:
    """Check every complete line of ``data``; never raises on damaged or hostile content."""
    with _bulk_allocation():
        return _check_lines(data)


def _check_lines(data: bytes) -> CheckedLog:
    end = data.rfind(b"\n") + 1
    events: list[dict[str, Any]] = []
    typed: dict[str, list[Any]] = {kind: [] for kind in TYPED}
    skipped: list[SkippedLine] = []
    for n, raw in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            skipped.append(SkippedLine(n, f"longer than {MAX_LINE_BYTES >> 20} MiB"))
            continue
        try:
            line = check_event(strict_json.loads(raw))
            make = TYPED.get(line["type"])
            value = make(line) if make is not None else None
        except ValueError as e:  # JSONRejected, LineError
            skipped.append(SkippedLine(n, str(e)))
            continue
        events.append(line)
        if value is not None:
            typed[line["type"]].append(value)
    return CheckedLog(
        tuple(events), tuple(typed[ev.WINDOW]), tuple(typed[ev.MARKER]), tuple(skipped), end < len(data)
    )


def _profile(line: Mapping[str, Any]) -> str:
    """The window's profile: ``exact`` (also for logs written before profiles existed) or ``fast``."""
    value = line.get("profile", EXACT)
    if value not in PROFILES:
        raise LineError(f"'profile' is {str(value)[:40]!r}, expected one of {', '.join(PROFILES)}")
    return value
