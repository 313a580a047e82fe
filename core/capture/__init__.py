"""Capture sources behind one protocol (see ``core.capture.base``): camera, microphone, media file, synthetic.

Typical wiring (the pipeline does this)::

    buffer = LiveBuffer(window_s=settings.window_s)          # owns the session clock and the rings
    camera = CameraSource(settings.camera); mic = MicrophoneSource(settings.microphone)
    camera.add_listener(on_event); mic.add_listener(on_event)  # errors, unplug, reconnect -> the UI
    camera.start(buffer); mic.start(buffer)                    # never block; failures arrive as events
    ...
    camera.stop(); mic.stop()                                  # capture stops first on shutdown
"""

from core.capture.base import (
    ENDED,
    ERROR,
    RUNNING,
    STOPPED,
    CaptureSink,
    Source,
    SourceError,
    SourceEvent,
    SourceStatus,
)
from core.capture.camera import CameraSource
from core.capture.devices import (
    CameraInfo,
    MicrophoneInfo,
    find_microphone,
    list_cameras,
    list_microphones,
    rescan_audio_devices,
)
from core.capture.media_file import MediaFileError, MediaFileSource, MediaInfo, probe
from core.capture.microphone import MicrophoneSource
from core.capture.synthetic import SyntheticSource

__all__ = [
    "ENDED",
    "ERROR",
    "RUNNING",
    "STOPPED",
    "CameraInfo",
    "CameraSource",
    "CaptureSink",
    "MediaFileError",
    "MediaFileSource",
    "MediaInfo",
    "MicrophoneInfo",
    "MicrophoneSource",
    "Source",
    "SourceError",
    "SourceEvent",
    "SourceStatus",
    "SyntheticSource",
    "find_microphone",
    "list_cameras",
    "list_microphones",
    "probe",
    "rescan_audio_devices",
]
