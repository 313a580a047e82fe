"""Blocking jobs of the window (device scans, stopping a session, starting or stopping a recording, a file run,
reading a session for replay) on a small pool of named threads, with their continuations back on the UI thread.

One place for "do this off the UI thread, then that on it": ``tasks.run(job, then=callback)`` returns at once;
``job()`` runs on a "desktop-task" thread; ``then(result)`` runs on the UI thread afterwards (not after
``shutdown``). A job that raises is logged and its continuation is not called; jobs report their own failures
through their own values or signals. Thread of every method: the UI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

TASK_THREADS = 4  # a file run holds one for its whole length; scans, stops and recordings share the rest
THREAD_PREFIX = "desktop-task"


class BackgroundTasks(QObject):
    _finished = Signal(object, object)  # continuation, result (emitted on a task thread, delivered on the UI's)

    def __init__(self, threads: int = TASK_THREADS) -> None:
        super().__init__()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=THREAD_PREFIX)
        self._pending: set[Future] = set()
        self._closed = False
        self._finished.connect(self._deliver)

    def run(self, job: Callable[[], Any], then: Callable[[Any], None] | None = None) -> Future | None:
        """Run ``job`` off the UI thread and ``then(result)`` back on it. None once shut down."""
        if self._closed:
            return None

        def call() -> None:
            try:
                result = job()
            except Exception:  # noqa: BLE001 — a failed job is logged; the window goes on
                log.exception("background task %s failed", getattr(job, "__name__", job))
                return
            if then is not None and not self._closed:
                self._finished.emit(then, result)

        future = self._pool.submit(call)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def _deliver(self, then: Callable[[Any], None], result: Any) -> None:
        if not self._closed:
            then(result)

    @property
    def busy(self) -> bool:
        return any(not f.done() for f in list(self._pending))

    def shutdown(self, timeout: float) -> bool:
        """No new jobs and no more continuations; wait up to ``timeout`` s for running jobs. True when all ended
        (their threads then end too)."""
        self._closed = True
        _, running = wait(list(self._pending), timeout=timeout)
        self._pool.shutdown(wait=not running, cancel_futures=True)
        return not running
