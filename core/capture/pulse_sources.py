"""The sound server's own microphones (PulseAudio, or PipeWire through its PulseAudio interface).

On such systems PortAudio sees only the ALSA devices ``pulse`` and ``default``: every microphone hides behind
them. ``pactl`` lists the server's sources by name and description ("USB Microphone"); a stream opened on the
``pulse`` device captures from the source named in ``PULSE_SOURCE`` when the stream is opened (libpulse reads it
when the plugin creates its connection), so :func:`pulse_source_env` sets it around one stream's opening.

Monitors (what a speaker plays) are not microphones and are left out. Everything here returns [] / None when
``pactl`` is missing, the server does not answer within ``PACTL_TIMEOUT_S`` or the output cannot be read.
Threads: any; ``pulse_source_env`` must be called with ``devices.PORTAUDIO_LOCK`` held (the environment is the
process's), and only around a stream open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass

from core.env_scope import scoped_env

log = logging.getLogger(__name__)

PACTL_TIMEOUT_S = 2.0
SOURCE_ENV = "PULSE_SOURCE"
_SPEC = re.compile(r"(\d+)ch\s+(\d+)Hz")


@dataclass(frozen=True)
class PulseSource:
    name: str  # the server's id, e.g. alsa_input.usb-Generic_USB_Microphone-00.mono-fallback
    description: str  # what a person reads, e.g. "USB Microphone"
    channels: int
    rate_hz: int
    is_default: bool


def _pactl(*args: str) -> str | None:
    if shutil.which("pactl") is None:
        return None
    try:
        out = subprocess.run(["pactl", *args], check=False, capture_output=True, text=True, timeout=PACTL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("pactl %s: %s", " ".join(args), exc)
        return None
    return out.stdout if out.returncode == 0 else None


def _spec(text: str) -> tuple[int, int]:
    m = _SPEC.search(text or "")
    return (int(m.group(1)), int(m.group(2))) if m else (1, 48_000)


def parse_json(text: str, default: str) -> list[PulseSource]:
    """Sources from ``pactl -f json list sources`` (pactl >= 16), monitors left out."""
    try:
        entries = json.loads(text)
    except json.JSONDecodeError:
        return []
    found = []
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            continue
        props = raw if isinstance(raw := e.get("properties"), dict) else {}
        if props.get("device.class") == "monitor" or e["name"].endswith(".monitor"):
            continue
        channels, rate = _spec(str(e.get("sample_specification", "")))
        description = str(e.get("description") or props.get("device.description") or e["name"])
        found.append(PulseSource(e["name"], description, channels, rate, e["name"] == default))
    return found


def parse_text(text: str, default: str) -> list[PulseSource]:
    """Sources from the plain ``pactl list sources`` (older pactl without ``-f json``), monitors left out."""
    found = []
    for block in re.split(r"^Source #\d+\s*$", text, flags=re.MULTILINE)[1:]:
        fields = dict(re.findall(r"^\s*([A-Z][A-Za-z ]+):\s*(.*)$", block, flags=re.MULTILINE))
        name = fields.get("Name", "").strip()
        if not name or name.endswith(".monitor") or 'device.class = "monitor"' in block:
            continue
        channels, rate = _spec(fields.get("Sample Specification", ""))
        found.append(PulseSource(name, fields.get("Description", name).strip() or name, channels, rate,
                                 name == default))
    return found


def list_sources() -> list[PulseSource]:
    """The server's microphones; [] without a server or pactl."""
    default = (_pactl("get-default-source") or "").strip()
    text = _pactl("-f", "json", "list", "sources")
    if text is not None:
        return parse_json(text, default)
    text = _pactl("list", "sources")
    return parse_text(text, default) if text is not None else []


def pulse_source_env(source: str) -> contextlib.AbstractContextManager[None]:
    """``PULSE_SOURCE=source`` while a stream on the ``pulse`` device is opened; the previous value afterwards."""
    return scoped_env(SOURCE_ENV, source)
