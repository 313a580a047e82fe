"""Thin QObjects that turn core callbacks (the inference worker's model events, a live session's window, capture
and recording events) into Qt signals.

Core never imports Qt; these bridges are the only place where its callbacks meet the UI. Each signal is emitted on
the calling thread (source, worker or writer thread); the QObject lives in the UI thread, so Qt queues the
delivery and the slots run on the UI thread. Emitting never blocks the caller.

Signals are past-tense events and carry immutable values (``Window``, ``WindowResult``, ``SourceEvent``, str,
dict copies).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.attribution import Attribution
from core.capture.base import SourceEvent
from core.engine import AttributionListener, ModelListener
from core.pipeline import SessionListener
from core.results import WindowResult
from core.window import Window


class ModelBridge(QObject):
    """Signals for the worker's model events; ``listener()`` is what the ``InferenceWorker`` calls."""

    model_loading_changed = Signal(str)  # progress message
    model_loaded = Signal(object)  # dict: backend.info()
    model_unloaded = Signal()
    error_raised = Signal(str)
    warning_raised = Signal(str)

    def listener(self) -> ModelListener:
        return _ModelEmitter(self)


class AttributionBridge(QObject):
    """Signals for attribution events (``core.engine.AttributionListener``); ``listener()`` is what the worker
    calls. Replay asks with its own bridge; a live session's come through its ``SessionBridge``."""

    attribution_started = Signal(int)  # window_id
    attribution_ready = Signal(int, object)  # window_id, core.attribution.Attribution
    attribution_failed = Signal(int, str)  # window_id, message
    attribution_cancelled = Signal(int)
    attribution_yielded = Signal(int)  # a live window came first; it runs again later

    def listener(self) -> AttributionListener:
        return _AttributionEmitter(self)


class SessionBridge(AttributionBridge):
    """Signals for everything a ``LiveSession`` reports; ``listener()`` is what the session calls."""

    window_started = Signal(object)  # Window
    token_streamed = Signal(int, str)  # window_id, text delta
    result_ready = Signal(object, object)  # WindowResult, Window
    error_raised = Signal(str)
    warning_raised = Signal(str)
    source_event = Signal(object)  # core.capture.base.SourceEvent
    recording_started = Signal(str)  # session folder
    recording_stopped = Signal(str, object)  # session folder, error text or None

    def listener(self) -> SessionListener:
        return _SessionEmitter(self)


_ATTRIBUTION_SIGNALS = ("attribution_started", "attribution_ready", "attribution_failed", "attribution_cancelled",
                        "attribution_yielded")
_SESSION_SIGNALS = ("window_started", "token_streamed", "result_ready", "error_raised", "warning_raised",
                    "source_event", "recording_started", "recording_stopped", *_ATTRIBUTION_SIGNALS)
_CURRENT_ONLY = frozenset({"window_started", "token_streamed", "result_ready", "source_event", "warning_raised"})
_SHOWN_ONLY = frozenset(_ATTRIBUTION_SIGNALS)


class SessionRelay(SessionBridge):
    """The window-facing session signals, one set for every session of the window, so views connect once.

    Each session gets its own ``SessionBridge`` (``bridge_for_new_session``); the relay forwards its signals on
    the UI thread. Window, token, capture and warning events of a session that is no longer the current one are
    dropped when they arrive — results still queued from a stopped session must not land on the next session's
    clock — while its errors and recording events still get through (a recording ends after its session).
    Attribution events get through for the newest session even once stopped: its windows stay on show (and may
    be attributed) until the next session starts."""

    def __init__(self) -> None:
        super().__init__()
        self._current: SessionBridge | None = None
        self._shown: SessionBridge | None = None

    def bridge_for_new_session(self) -> SessionBridge:
        bridge = SessionBridge()
        for name in _SESSION_SIGNALS:
            getattr(bridge, name).connect(partial(self._forward, bridge, name))  # queued to this (UI) thread
        self._current = self._shown = bridge
        return bridge

    def retire_current(self) -> None:
        """From now on, events of the current session's window are dropped (it is being stopped)."""
        self._current = None

    def _forward(self, bridge: SessionBridge, name: str, *args: Any) -> None:
        if (name in _CURRENT_ONLY and bridge is not self._current) or (name in _SHOWN_ONLY and bridge is not
                                                                        self._shown):
            return
        getattr(self, name).emit(*args)


class _ModelEmitter(ModelListener):
    """Implements ``core.engine.ModelListener`` by emitting the bridge's signals (worker thread)."""

    def __init__(self, bridge: ModelBridge) -> None:
        self._b = bridge

    def model_loading(self, message: str) -> None:
        self._b.model_loading_changed.emit(message)

    def model_loaded(self, info: dict[str, Any]) -> None:
        self._b.model_loaded.emit(dict(info))

    def model_unloaded(self) -> None:
        self._b.model_unloaded.emit()

    def error(self, message: str) -> None:
        self._b.error_raised.emit(message)

    def warning(self, message: str) -> None:
        self._b.warning_raised.emit(message)


class _AttributionEmitter(AttributionListener):
    """Implements ``core.engine.AttributionListener`` by emitting the bridge's signals (worker thread)."""

    def __init__(self, bridge: AttributionBridge) -> None:
        self._b = bridge

    def attribution_started(self, window_id: int) -> None:
        self._b.attribution_started.emit(window_id)

    def attribution_ready(self, window_id: int, attribution: Attribution) -> None:
        self._b.attribution_ready.emit(window_id, attribution)

    def attribution_failed(self, window_id: int, message: str) -> None:
        self._b.attribution_failed.emit(window_id, message)

    def attribution_cancelled(self, window_id: int) -> None:
        self._b.attribution_cancelled.emit(window_id)

    def attribution_yielded(self, window_id: int) -> None:
        self._b.attribution_yielded.emit(window_id)


class _SessionEmitter(_AttributionEmitter, SessionListener):
    """Implements ``core.pipeline.SessionListener`` by emitting the bridge's signals (core threads)."""

    _b: SessionBridge

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
