"""What a user types as a source (``--source camera|camera:N|demo|synthetic|FILE|URL``, a saved setting) and the
capture sources it opens.

``parse_source(text) -> SourceSpec`` is the one parser of source words: the headless ``monitor`` command, the app's
``--source`` and its remembered source all go through it, so they accept and refuse the same things with the same
message. ``describe(spec)`` names a source for people, with a stream's password masked. ``open_sources`` /
``sources_for`` build the capture sources; nothing is opened there: sources open on their own threads and report
failures as events.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.capture.base import Source
from core.capture.camera import CameraSource
from core.capture.devices import has_microphone
from core.capture.media_file import MediaFileSource
from core.capture.microphone import MicrophoneSource
from core.capture.synthetic import SyntheticSource
from core.cli_types import MAX_DEVICE_INDEX
from core.input_checks import (
    STREAM_SCHEMES,
    file_problem,
    is_url,
    looks_like_ffmpeg_protocol,
    stream_url_problem,
)
from core.redaction import redact

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_CLIP = RESOURCES / "demo.mp4"

SOURCE_CAMERA = "camera"
SOURCE_DEMO = "demo"
SOURCE_SYNTHETIC = "synthetic"
SOURCE_FILE = "file"
SOURCE_STREAM = "stream"
SOURCE_WORDS = (SOURCE_CAMERA, SOURCE_DEMO, SOURCE_SYNTHETIC)
_VIDEO_DEVICE_PREFIX = "/dev/video"  # a V4L2 camera node may be named directly
_HELP = f"camera[:N], {SOURCE_DEMO}, {SOURCE_SYNTHETIC}, a media file or a stream URL ({', '.join(STREAM_SCHEMES)})"


class SourceSpecError(ValueError):
    """A source string that cannot be used; the message names it (password masked), the problem and the fix."""


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source. ``kind``: camera | demo | synthetic | file | stream. ``ref``: the camera index (int) or
    device path; the absolute file path (the demo clip's for demo); the stream URL, credentials included (show
    ``describe(spec)``, never ``ref``); None for synthetic."""

    kind: str
    ref: int | str | None = None

    def __repr__(self) -> str:  # a spec may be logged: never with a password
        return f"SourceSpec({self.kind!r}, {describe(self)!r})"


def describe(spec: SourceSpec) -> str:
    """A short name for people: ``camera 0``, ``demo clip``, ``clip.mp4``, ``rtsp://admin:***@cam/live``."""
    if spec.kind == SOURCE_CAMERA:
        return f"camera {spec.ref}"
    if spec.kind == SOURCE_DEMO:
        return "demo clip"
    if spec.kind == SOURCE_SYNTHETIC:
        return "synthetic test pattern"
    if spec.kind == SOURCE_STREAM:
        return redact(str(spec.ref))
    return os.path.basename(str(spec.ref)) or str(spec.ref)


def _fail(text: str, problem: str) -> SourceSpecError:
    return SourceSpecError(f"--source {redact(text)!r} {problem}")


def parse_source(text: str) -> SourceSpec:
    """Parse what a user typed. Raises ``SourceSpecError`` naming the fix for an unknown word, a malformed or
    out-of-range camera index, an FFmpeg protocol string (``concat:``, ``file:``, ``subfile,``...), a URL of another
    scheme, or a path that is missing, empty, unreadable, a folder, a FIFO or a device. Looks the path up (``stat``)
    but opens nothing; thread-safe."""
    if not isinstance(text, str) or not text.strip():
        raise SourceSpecError(f"--source is empty: give {_HELP}")
    word = text.strip()
    lowered = word.lower()
    if lowered in (SOURCE_DEMO, SOURCE_SYNTHETIC):
        if lowered == SOURCE_DEMO and not DEMO_CLIP.is_file():
            raise SourceSpecError(f"the demo clip {DEMO_CLIP} is missing: run python resources/make_demo_clip.py")
        return SourceSpec(lowered, str(DEMO_CLIP) if lowered == SOURCE_DEMO else None)
    if lowered == SOURCE_CAMERA or lowered.startswith(SOURCE_CAMERA + ":") or word.isdigit():
        return _camera(word)
    if is_url(word):
        problem = stream_url_problem(word)
        if problem is not None:
            raise _fail(word, problem)
        return SourceSpec(SOURCE_STREAM, word)
    if looks_like_ffmpeg_protocol(word):
        raise _fail(word, "looks like an FFmpeg protocol string; only plain file paths and stream URLs are read "
                          "(write ./NAME for a file whose name holds a colon)")
    return _local(word)


def _camera(word: str) -> SourceSpec:
    index = word.partition(":")[2] if ":" in word else ("0" if not word.isdigit() else word)
    if not index.isdigit():
        raise _fail(word, f"has a camera index {index!r} that is not a number: write camera:N with a device number, "
                          "e.g. camera:0")
    if int(index) > MAX_DEVICE_INDEX:
        raise _fail(word, f"has a camera index above {MAX_DEVICE_INDEX}: write camera:N with a device number, "
                          "e.g. camera:0")
    return SourceSpec(SOURCE_CAMERA, int(index))


def _local(word: str) -> SourceSpec:
    path = os.path.abspath(os.path.expanduser(word))
    if path.startswith(_VIDEO_DEVICE_PREFIX) and os.path.exists(path) and not os.path.isfile(path):
        return SourceSpec(SOURCE_CAMERA, path)  # /dev/videoN: a camera named by its node
    problem = file_problem(path)
    if problem is None:
        return SourceSpec(SOURCE_FILE, path)
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):  # FIFO, device, socket
        problem += "; for a camera write camera:N, for a live stream give its URL"
    elif not os.path.lexists(path):
        problem = (f"is neither a file nor one of camera[:N], {SOURCE_DEMO}, {SOURCE_SYNTHETIC} nor a stream URL "
                   f"({', '.join(s + '://' for s in STREAM_SCHEMES)}): no such file; check the path")
    elif os.path.isdir(path):
        problem += "; give one media file (to analyse a folder use: main.py analyze)"
    raise _fail(word, problem)


@dataclass
class OpenedSources:
    """The sources for one monitoring run; ``video is audio`` for a media file. ``notes`` are shown to the user."""

    video: Source | None
    audio: Source | None
    description: str
    notes: list[str] = field(default_factory=list)


def _microphone(mic: int | str | None, notes: list[str]) -> Source | None:
    if mic in ("none", "off"):
        notes.append("Microphone off: windows are analysed from video only.")
        return None
    if not has_microphone():  # PortAudio's list only: no pactl on the caller's (UI) thread
        notes.append("No microphone found: windows are analysed from video only. Plug one in and refresh.")
        return None
    return MicrophoneSource(mic)


def sources_for(kind: str, ref: int | str | None = None, mic: int | str | None = None,
                loop_files: bool = False, realtime: bool = True) -> OpenedSources:
    """Sources for an already-parsed choice (a ``SourceSpec``, or the desktop's pickers): ``camera`` (``ref`` = index
    or device path, + the microphone ``mic``), ``demo`` (the bundled clip, looped), ``synthetic`` (moving shapes +
    chirp), ``file`` (a media file path with its own audio track; a URL here is read as a ``stream``) or ``stream``
    (a URL read by OpenCV for video + the microphone). Nothing is opened here: a missing file or device, or a URL
    of another scheme, is reported by the source's own thread."""
    notes: list[str] = []
    if kind == SOURCE_CAMERA:
        index = ref if isinstance(ref, str) and ref.startswith("/dev/") else int(ref or 0)
        return OpenedSources(CameraSource(index), _microphone(mic, notes), f"camera {index}", notes)
    if kind == SOURCE_DEMO:
        src = MediaFileSource(DEMO_CLIP, realtime=realtime, loop=True, name="demo clip")
        return OpenedSources(src, src, "demo clip", notes)
    if kind == SOURCE_SYNTHETIC:
        pattern = SyntheticSource(audio="chirp", name="synthetic test pattern")
        return OpenedSources(pattern, pattern, "synthetic test pattern", notes)
    if kind not in (SOURCE_FILE, SOURCE_STREAM):
        raise ValueError(f"unknown source kind {kind!r}: camera, demo, synthetic, file or stream")
    target = str(ref)
    if is_url(target):
        notes.append("Streams are read for video only; audio comes from the chosen microphone.")
        return OpenedSources(CameraSource(target), _microphone(mic, notes), redact(target), notes)
    src = MediaFileSource(target, realtime=realtime, loop=loop_files)
    return OpenedSources(src, src, os.path.basename(target), notes)


def open_sources(text: str | None, mic: int | str | None = None, loop_files: bool = False,
                 realtime: bool = True) -> OpenedSources:
    """Sources for what a user types (``parse_source``; None or blank means ``camera``). Raises
    ``SourceSpecError`` (a ``ValueError``) naming the fix."""
    spec = parse_source(text if text and text.strip() else SOURCE_CAMERA)
    return sources_for(spec.kind, spec.ref, mic, loop_files=loop_files, realtime=realtime)
