"""The append-only event log: one JSON object per line, each with ``seq``, ``type``, ``t`` and ``wall``.

``t`` is session seconds, ``wall`` unix seconds when the line was written. A ``window`` line carries
``WindowResult.to_dict()`` plus ``wall_t1`` and the frames the analysis used. A line is written with
one ``write`` call and flushed to the OS at once, so a killed process leaves at most one torn last
line, which the reader (``core.session.records.check_log``) skips and reports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

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
    return (json.dumps(_clean(event), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode()


def of_type(events: Iterable[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") in types]
