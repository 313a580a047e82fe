"""Turn what a user types (``--source camera|demo|synthetic|FILE|URL``, a microphone choice) into capture sources.

Shared by the desktop app and the headless ``monitor`` command so that both accept the same words.
Opening never touches a device here: sources open on their own threads and report failures as events.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.capture.base import Source
from core.capture.camera import CameraSource
from core.capture.devices import list_microphones
from core.capture.media_file import MediaFileSource
from core.capture.microphone import MicrophoneSource
from core.capture.synthetic import SyntheticSource

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_CLIP = RESOURCES / "demo.mp4"
SOURCE_WORDS = ("camera", "demo", "synthetic")


@dataclass
class SourceChoice:
    """The sources for one monitoring run; ``video is audio`` for a media file. ``notes`` are shown to the user."""

    video: Source | None
    audio: Source | None
    description: str
    notes: list[str] = field(default_factory=list)


def _microphone(mic: int | str | None, notes: list[str]) -> Source | None:
    if mic in ("none", "off"):
        notes.append("Microphone off: windows are analysed from video only.")
        return None
    if not list_microphones():
        notes.append("No microphone found: windows are analysed from video only. Plug one in and refresh.")
        return None
    return MicrophoneSource(mic)


def sources_for(kind: str, ref: int | str | None = None, mic: int | str | None = None,
                loop_files: bool = False, realtime: bool = True) -> SourceChoice:
    """Sources for an already-parsed choice (the desktop's pickers give these): ``camera`` (``ref`` = index,
    + the microphone ``mic``), ``demo`` (the bundled clip, looped), ``synthetic`` (moving shapes + chirp), or
    ``file`` (``ref`` = a media file path with its own audio track, or a stream URL read by OpenCV for video +
    the microphone). Nothing is opened here: a missing file or device is reported by the source's own thread."""
    notes: list[str] = []
    if kind == "camera":
        index = int(ref or 0)
        return SourceChoice(CameraSource(index), _microphone(mic, notes), f"camera {index}", notes)
    if kind == "demo":
        src = MediaFileSource(DEMO_CLIP, realtime=realtime, loop=True, name="demo clip")
        return SourceChoice(src, src, "demo clip", notes)
    if kind == "synthetic":
        src = SyntheticSource(audio="chirp", name="synthetic test pattern")
        return SourceChoice(src, src, "synthetic test pattern", notes)
    if kind != "file":
        raise ValueError(f"unknown source kind {kind!r}: camera, demo, synthetic or file")
    target = str(ref)
    if "://" in target:
        notes.append("Streams are read for video only; audio comes from the chosen microphone.")
        return SourceChoice(CameraSource(target), _microphone(mic, notes), target, notes)
    src = MediaFileSource(target, realtime=realtime, loop=loop_files)
    return SourceChoice(src, src, os.path.basename(target), notes)


def open_sources(spec: str, mic: int | str | None = None, loop_files: bool = False,
                 realtime: bool = True) -> SourceChoice:
    """Sources for what a user types: ``camera`` / ``camera:N``, ``demo``, ``synthetic``, a media file path or a
    stream URL (see ``sources_for``). Raises ``ValueError`` naming the fix for an unknown word, a malformed
    camera index or a missing file."""
    spec = (spec or "camera").strip()
    if spec == "camera" or spec.startswith("camera:"):
        index = spec.partition(":")[2] or "0"
        if not index.isdigit():
            raise ValueError(f"camera index {index!r} is not a number: use e.g. --source camera:0")
        return sources_for("camera", int(index), mic)
    if spec in ("demo", "synthetic"):
        if spec == "demo" and not DEMO_CLIP.exists():
            raise ValueError(f"the demo clip {DEMO_CLIP} is missing: run python resources/make_demo_clip.py")
        return sources_for(spec, realtime=realtime)
    if "://" in spec:
        return sources_for("file", spec, mic)
    path = os.path.expanduser(spec)
    if not os.path.exists(path):
        raise ValueError(
            f"--source {spec!r} is neither a file nor one of {', '.join(SOURCE_WORDS)} nor a URL: check the path"
        )
    return sources_for("file", path, loop_files=loop_files, realtime=realtime)
