"""Listing cameras and microphones. Both return [] when there are none (or no driver), never raise.

Threads: any thread. Listing can take a while (PortAudio probes every ALSA/JACK device when it re-initialises), so the
window lists devices on a worker thread. Every PortAudio call that lists or (re)initialises devices, and every
microphone stream open/close, holds ``PORTAUDIO_LOCK``; ``rescan_audio_devices`` does nothing while a stream is
open (re-initialising PortAudio would kill it).
"""

from __future__ import annotations

import glob
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

from core.capture.base import SourceError

log = logging.getLogger(__name__)

PROBE_CAMERA_INDICES = 4  # non-Linux: how many OpenCV indices to try
PULSE_KEY_PREFIX = "pulse:"
PULSE_DEVICES = ("pulse", "default")  # PortAudio (ALSA) devices that lead to the sound server, preferred first

PORTAUDIO_LOCK = threading.RLock()
_open_streams = 0  # microphone streams open now (guarded by PORTAUDIO_LOCK)


@dataclass(frozen=True)
class CameraInfo:
    index: int  # what CameraSource(index) opens
    name: str
    path: str = ""  # /dev/videoN on Linux


@dataclass(frozen=True)
class MicrophoneInfo:
    index: int  # PortAudio device index to open (for a sound-server source: the ``pulse`` device)
    name: str
    hostapi: str
    channels: int
    default_rate_hz: int
    is_default: bool
    pulse_source: str = ""  # a sound-server source captured through the ``pulse`` device ("" = a PortAudio device)

    @property
    def key(self) -> int | str:
        """What identifies it in settings and pickers: the PortAudio index, or ``pulse:<source name>``."""
        return f"{PULSE_KEY_PREFIX}{self.pulse_source}" if self.pulse_source else self.index


def _sounddevice() -> Any | None:
    try:
        import sounddevice
    except (OSError, ImportError) as exc:  # no PortAudio library: same as "no microphone"
        log.info("sounddevice unavailable: %s", exc)
        return None
    return sounddevice


def _sysfs(index: int, attribute: str) -> str:
    try:
        with open(f"/sys/class/video4linux/video{index}/{attribute}") as f:
            return f.read().strip()
    except OSError:
        return ""


def list_cameras() -> list[CameraInfo]:
    """Video capture devices. Linux: /dev/video* nodes that are capture devices (no device is opened).
    Elsewhere: OpenCV indices 0..PROBE_CAMERA_INDICES-1 that open."""
    if sys.platform.startswith("linux"):
        cams = []
        for path in sorted(glob.glob("/dev/video*"), key=lambda p: int(re.sub(r"\D", "", p) or 0)):
            index = int(re.sub(r"\D", "", path) or 0)
            if _sysfs(index, "index") not in ("", "0"):
                continue  # a second node of the same camera (UVC metadata), not a picture source
            name_file = f"/sys/class/video4linux/video{index}/name"
            try:
                with open(name_file) as f:
                    name = f.read().strip()
            except OSError:
                name = os.path.basename(path)
            cams.append(CameraInfo(index, name, path))
        return cams
    import cv2

    cams = []
    for index in range(PROBE_CAMERA_INDICES):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                cams.append(CameraInfo(index, f"camera {index}"))
        finally:
            cap.release()
    return cams


def list_microphones() -> list[MicrophoneInfo]:
    """PortAudio input devices, then the sound server's microphones (when PortAudio reaches a PulseAudio or
    PipeWire server through its ``pulse``/``default`` device); [] when there are none or PortAudio is missing.
    Asking the server runs ``pactl`` (up to seconds)."""
    portaudio = _portaudio_microphones()
    return portaudio + _server_microphones(portaudio)


def has_microphone() -> bool:
    """Whether any microphone is there, without asking the sound server: its microphones are reached only through
    a PortAudio device, so PortAudio's list alone decides."""
    return bool(_portaudio_microphones())


def _portaudio_microphones() -> list[MicrophoneInfo]:
    """PortAudio's input devices; [] when there are none or PortAudio is missing."""
    sd = _sounddevice()
    if sd is None:
        return []
    try:
        with PORTAUDIO_LOCK:
            devices = sd.query_devices()
            hostapis = sd.query_hostapis()
            default_in = sd.default.device[0]
    except Exception as exc:  # PortAudio errors on broken set-ups: report as none
        log.warning("listing microphones failed: %s", exc)
        return []
    mics = []
    for dev in devices:
        if dev["max_input_channels"] <= 0:
            continue
        mics.append(
            MicrophoneInfo(
                index=int(dev["index"]),
                name=str(dev["name"]),
                hostapi=str(hostapis[dev["hostapi"]]["name"]),
                channels=int(dev["max_input_channels"]),
                default_rate_hz=int(dev["default_samplerate"]),
                is_default=int(dev["index"]) == default_in,
            )
        )
    return mics


def _server_microphones(portaudio: list[MicrophoneInfo]) -> list[MicrophoneInfo]:
    """The sound server's sources, each opened through the PortAudio device that leads to the server."""
    gateway = next((m for name in PULSE_DEVICES for m in portaudio if m.name == name), None)
    if gateway is None:
        return []
    from core.capture.pulse_sources import list_sources

    return [MicrophoneInfo(gateway.index, s.description, "PulseAudio", s.channels, s.rate_hz, s.is_default,
                           pulse_source=s.name) for s in list_sources()]


def rescan_audio_devices() -> bool:
    """Make PortAudio look again (it lists devices once, at initialisation). Skipped (False) while a microphone
    stream is open: re-initialising would close it under its owner."""
    sd = _sounddevice()
    if sd is None:
        return False
    with PORTAUDIO_LOCK:
        if _open_streams:
            return False
        sd._terminate()
        sd._initialize()
    return True


def stream_opened() -> None:
    """Count a microphone stream as open (call with ``PORTAUDIO_LOCK`` held, after it started)."""
    global _open_streams
    with PORTAUDIO_LOCK:
        _open_streams += 1


def stream_closed() -> None:
    global _open_streams
    with PORTAUDIO_LOCK:
        _open_streams = max(0, _open_streams - 1)


def find_microphone(spec: int | str | None) -> MicrophoneInfo:
    """Resolve a microphone by PortAudio index, by ``pulse:<source name>``, by case-insensitive substring of its
    name (a sound-server source also by its id), or the default (None). Where a name matches a sound-server source
    and a PortAudio device (the same hardware, which the server holds), the source wins.

    Raises ``SourceError`` naming what is available when nothing (or more than one name) matches.
    """
    index = int(spec) if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()) else None
    if index is not None:  # a PortAudio device's: found without asking the sound server (pactl, seconds)
        for m in _portaudio_microphones():
            if m.index == index:
                return m
    mics = list_microphones()
    if not mics:
        raise SourceError(
            "no microphone found: the audio system lists no input device. Connect a microphone (or start the "
            "sound server), or run without audio"
        )
    names = ", ".join(f"{m.key}: {m.name}" for m in mics)
    if spec is None or spec == "":
        for m in mics:
            if m.is_default:
                return m
        return mics[0]
    if index is not None:
        raise SourceError(f"no microphone with index {index}; available: {names}")
    assert isinstance(spec, str)  # an int is an index, answered above
    if spec.startswith(PULSE_KEY_PREFIX):
        for m in mics:
            if m.key == spec:
                return m
        raise SourceError(f"the sound server has no source {spec[len(PULSE_KEY_PREFIX):]!r} (unplugged?); "
                          f"available: {names}")
    wanted = spec.lower()
    matches = [m for m in mics if wanted in m.name.lower() or (m.pulse_source and wanted in m.pulse_source.lower())]
    if not matches:
        raise SourceError(f"no microphone name contains {spec!r}; available: {names}")
    exact = [m for m in matches if m.name.lower() == wanted]
    if len(exact) == 1:
        return exact[0]
    matches = [m for m in matches if m.pulse_source] or matches
    if len(matches) > 1:
        raise SourceError(
            f"{spec!r} matches several microphones ({', '.join(m.name for m in matches)}); be more specific"
        )
    return matches[0]
