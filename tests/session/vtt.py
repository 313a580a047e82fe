"""A small WebVTT parser for the tests: header, NOTE blocks, cue ids, timings and payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TIMING = re.compile(r"^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})(?: .*)?$")


@dataclass(frozen=True)
class Cue:
    id: str | None
    start_ms: int
    end_ms: int
    text: str


def _ms(h: str, m: str, s: str, ms: str) -> int:
    if int(m) > 59 or int(s) > 59:
        raise ValueError("minutes/seconds out of range")
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def parse_vtt(text: str) -> list[Cue]:
    """Strict enough to catch malformed files: raises ValueError on a bad header or timing line."""
    blocks = re.split(r"\n{2,}", text.replace("\r\n", "\n").strip("\n"))
    if not blocks or not re.match(r"^WEBVTT($|[ \t])", blocks[0].split("\n")[0]):
        raise ValueError("missing WEBVTT header")
    cues = []
    for block in blocks[1:]:
        lines = block.split("\n")
        if lines[0].startswith("NOTE"):
            continue
        cue_id = None
        if "-->" not in lines[0]:
            cue_id, lines = lines[0], lines[1:]
        m = _TIMING.match(lines[0]) if lines else None
        if not m:
            raise ValueError(f"bad cue timing line in block {block!r}")
        start, end = _ms(*m.groups()[:4]), _ms(*m.groups()[4:])
        if end <= start:
            raise ValueError(f"cue ends before it starts: {lines[0]}")
        payload = "\n".join(lines[1:])
        if "-->" in payload or not payload.strip():
            raise ValueError(f"bad cue payload {payload!r}")
        cues.append(Cue(cue_id, start, end, payload))
    return cues
