"""What a session attaches to the inference worker (:mod:`core.engine`), and what comes back to it.

An :class:`Attachment` is one place's windows (a latest-wins mailbox) and the :class:`WindowListener` their results
go to; the worker keeps its counters as :class:`WorkerStats` snapshots. Model-level events go to a
:class:`ModelListener`. Every listener method is called on the worker thread and must return quickly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from core.attribution import Attribution, KeptInputs
from core.results import WindowResult
from core.window import Window


class ModelListener:
    """Model events from the worker thread: loading progress, loaded (with ``info()``), unloaded, and model-level
    errors and warnings (a failed load, a failed warm-up). Every method is a no-op here; implementations must
    return quickly (post a signal, append to a list) and never call back into the worker."""

    def model_loading(self, message: str) -> None: ...
    def model_loaded(self, info: dict[str, Any]) -> None: ...
    def model_unloaded(self) -> None: ...
    def error(self, message: str) -> None: ...
    def warning(self, message: str) -> None: ...


class AttributionListener:
    """Attribution events, from the worker thread. Every ``attribution_started`` is followed by exactly one of
    ``attribution_ready``, ``attribution_failed``, ``attribution_cancelled`` or ``attribution_yielded`` (a live
    window came first; the request stays queued and starts again later). A queued request that is dropped
    (another model loaded, a newer automatic request, ``cancel_attributions``) gets ``attribution_cancelled``
    without a start — on the thread that called ``cancel_attributions`` in that case. Same rules as
    ``ModelListener``."""

    def attribution_started(self, window_id: int) -> None: ...
    def attribution_ready(self, window_id: int, attribution: Attribution) -> None: ...
    def attribution_failed(self, window_id: int, message: str) -> None: ...
    def attribution_cancelled(self, window_id: int) -> None: ...
    def attribution_yielded(self, window_id: int) -> None: ...


class WindowListener(AttributionListener):
    """Window events for one attachment, from the worker thread. Every ``window_started`` is followed by exactly
    one of ``result_ready``, ``window_failed`` or ``window_cancelled``. The attachment's attributions (automatic,
    or asked for with ``InferenceWorker.attribute_window``) come here too. Same rules as ``ModelListener``."""

    def window_started(self, window: Window) -> None: ...
    def token_streamed(self, window_id: int, text: str) -> None: ...
    def result_ready(self, result: WindowResult, window: Window) -> None: ...
    def window_failed(self, window: Window, message: str) -> None: ...
    def window_cancelled(self, window: Window) -> None: ...
    def warning(self, message: str) -> None: ...


class WindowSource(Protocol):
    def get(self, timeout: float | None = None) -> Window | None: ...


@dataclass(frozen=True)
class WorkerStats:
    """A snapshot of analysis counters (for a worker, or for one attachment), safe to hand to any thread."""

    analysed: int = 0
    failed: int = 0
    cancelled: int = 0
    last_latency_s: float | None = None  # window end -> result ready, on the session clock
    last_compute_s: float | None = None  # seconds the backend spent on the window
    last_first_token_s: float | None = None  # analysis start -> first streamed text (what a watcher feels)
    last_network_s: float | None = None  # of last_compute_s, the time on the network (a model server), else None
    busy: bool = False
    attributed: int = 0  # video-only re-runs finished (core.attribution)
    attributions_yielded: int = 0  # re-runs interrupted by a live window (and queued again)
    attributions_dropped: int = 0  # automatic requests dropped because newer ones filled the queue
    last_attribution_s: float | None = None  # seconds the last video-only re-run took

    @property
    def completed(self) -> int:
        return self.analysed + self.failed + self.cancelled


class LatestTimings(TypedDict, total=False):
    """The ``last_*`` timings of a finished window (see ``WorkerStats``); those not given keep their value."""

    last_latency_s: float | None
    last_compute_s: float | None
    last_first_token_s: float | None
    last_network_s: float | None


class Attachment:
    """Windows from one place (a live session's mailbox) and where their results go, attached to a worker with
    ``InferenceWorker.attach``. It counts its windows and wakes ``wait_completed`` callers at each end of one, so
    a file run advances on the event instead of polling. Thread-safe."""

    def __init__(self, windows: WindowSource, listener: WindowListener, clock: Callable[[], float],
                 keep: int = 0) -> None:
        self.windows = windows
        self.listener = listener
        self.clock = clock
        self.kept = KeptInputs(keep)  # the newest windows' inputs, for attribution on demand
        self._cond = threading.Condition()
        self._stats = WorkerStats()
        self._detached = False
        self.audio_missing_warned = False

    def stats(self) -> WorkerStats:
        return self._stats

    @property
    def detached(self) -> bool:
        return self._detached

    def wait_completed(self, after: int, timeout: float | None = None,
                       unless: Callable[[], bool] = lambda: False) -> bool:
        """Wait until more than ``after`` windows have completed (result, failure or cancellation), this
        attachment is detached, or ``unless()`` holds (checked whenever the worker changes state). True when a
        window completed."""
        with self._cond:
            self._cond.wait_for(lambda: self._stats.completed > after or self._detached or unless(), timeout)
            return self._stats.completed > after

    def wake(self) -> None:
        """Make waiters look at their conditions again (the worker's model or state changed)."""
        with self._cond:
            self._cond.notify_all()

    def _apply(self, change: Callable[[WorkerStats], WorkerStats]) -> None:
        with self._cond:
            self._stats = change(self._stats)
            self._cond.notify_all()

    def _detach(self) -> None:
        with self._cond:
            self._detached = True
            self._cond.notify_all()
