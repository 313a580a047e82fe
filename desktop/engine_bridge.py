"""The thin QObject that turns ``core.pipeline`` session callbacks into Qt signals.

Core never imports Qt; this bridge is the only place where its callbacks meet the UI. Each signal is
emitted on the calling thread (source, worker or writer thread); the QObject lives in the UI thread, so Qt
queues the delivery and the slots run on the UI thread. Emitting never blocks the caller.

Signals are past-tense events and carry immutable values (``Window``, ``WindowResult``, ``SourceEvent``,
str, dict).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from core.capture.base import SourceEvent
from core.pipeline import SessionListener
from core.results import WindowResult
from core.window import Window


class SessionBridge(QObject):
    """Signals for everything a ``LiveSession`` reports; ``listener()`` is what the session calls."""

    model_loading_changed = Signal(str)  # progress message
    model_loaded = Signal(object)  # dict: model.info()
    model_unloaded = Signal()
    window_started = Signal(object)  # Window
    token_streamed = Signal(int, str)  # window_id, text delta
    result_ready = Signal(object, object)  # WindowResult, Window
    error_raised = Signal(str)
    warning_raised = Signal(str)
    source_event = Signal(object)  # core.capture.base.SourceEvent
    recording_started = Signal(str)  # session folder
    recording_stopped = Signal(str, object)  # session folder, error text or None

    def listener(self) -> BridgeListener:
        """The object to hand to ``LiveSession`` as its listener."""
        return BridgeListener(self)


class BridgeListener(SessionListener):
    """Implements ``core.pipeline.SessionListener`` by emitting the bridge's signals (core threads).

    A separate object because the protocol's method names are the natural names of the signals too."""

    def __init__(self, bridge: SessionBridge) -> None:
        self._b = bridge

    def model_loading(self, message: str) -> None:
        self._b.model_loading_changed.emit(message)

    def model_loaded(self, info: dict[str, Any]) -> None:
        self._b.model_loaded.emit(dict(info))

    def model_unloaded(self) -> None:
        self._b.model_unloaded.emit()

    def window_started(self, window: Window) -> None:
        self._b.window_started.emit(window)

    def token_streamed(self, window_id: int, text: str) -> None:
        self._b.token_streamed.emit(window_id, text)

    def result_ready(self, result: WindowResult, window: Window) -> None:
        self._b.result_ready.emit(result, window)

    def error(self, message: str) -> None:
        self._b.error_raised.emit(message)

    def warning(self, message: str) -> None:
        self._b.warning_raised.emit(message)

    def source_event(self, event: SourceEvent) -> None:
        self._b.source_event.emit(event)

    def recording_started(self, directory: str) -> None:
        self._b.recording_started.emit(directory)

    def recording_stopped(self, directory: str, error: str | None) -> None:
        self._b.recording_stopped.emit(directory, error)
