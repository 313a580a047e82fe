"""The append-only event log: one JSON object per line, each with ``seq``, ``type``, ``t`` and ``wall``.

``t`` is session seconds, ``wall`` unix seconds when the line was written. A ``window`` line carries
``WindowResult.to_dict()`` plus ``wall_t1`` and the frames the analysis used. A line is written with
one ``write`` call and flushed to the OS at once, so a killed process leaves at most one torn last
line, which ``read_log`` skips and reports.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

# event types
SESSION_START = "session_start"
SESSION_END = "session_end"  # clean stop, with the writer's final counters
WINDOW = "window"  # one analysed window
MARKER = "marker"
DEVICE = "device"  # device opened / lost / changed (fields free-form: device, state, detail)
SUPERSEDED = "superseded"  # a window replaced in the mailbox before the model took it
DROPPED = "dropped"  # a window or media that was not analysed / recorded, with a reason
ERROR = "error"
RECORDING_START = "recording_start"
RECORDING_STOP = "recording_stop"
RECORDING_PAUSED = "recording_paused"
RECORDING_RESUMED = "recording_resumed"
MEDIA_DROPPED = "media_dropped"  # periodic summary when the writer dropped media to keep up

MARKER_KINDS = ("event", "exclude", "custom")


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "items"):  # MappingProxyType and friends
        return _clean(dict(value.items()))
    return value


def encode_line(event: dict[str, Any]) -> bytes:
    """One UTF-8 JSON line ending in ``\\n``; never contains another newline."""
    return (
        json.dumps(_clean(event), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
    ).encode()


@dataclass(frozen=True)
class LogContents:
    events: tuple[dict[str, Any], ...]  # every complete, parsable line in file order
    torn_tail: bool  # the file ended in an incomplete line (killed mid-write); it was skipped
    bad_lines: tuple[int, ...]  # 1-based numbers of complete lines that were not valid JSON objects
    good_bytes: int  # length of the prefix made of complete lines


def parse_log(data: bytes) -> LogContents:
    """Parse log bytes up to the last complete line; never raises on damaged content."""
    end = data.rfind(b"\n") + 1
    events: list[dict[str, Any]] = []
    bad: list[int] = []
    for n, raw in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            bad.append(n)
            continue
        if isinstance(obj, dict):
            events.append(obj)
        else:
            bad.append(n)
    return LogContents(tuple(events), end < len(data), tuple(bad), end)


def read_log(path: Path) -> LogContents:
    return parse_log(Path(path).read_bytes() if Path(path).exists() else b"")


def of_type(events: Iterable[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") in types]
