"""Capture sources behind one protocol (see ``core.capture.base``): camera, microphone, media file, synthetic."""

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

__all__ = [
    "ENDED",
    "ERROR",
    "RUNNING",
    "STOPPED",
    "CaptureSink",
    "Source",
    "SourceError",
    "SourceEvent",
    "SourceStatus",
]
