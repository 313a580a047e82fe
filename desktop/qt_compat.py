"""Protection against a reference-count defect of PySide6 6.12.0 on Python < 3.12.

In that release ``SignalInstance.emit()`` returns ``True`` without taking a reference, so every signal
emitted from Python (ours, and pyqtgraph's dozens per redraw) drops one reference to ``True`` (and, through
other paths, to ``False``/``None``). On Python 3.12+ those objects are immortal and nothing happens; on 3.11
the count reaches zero within minutes of live plotting and the interpreter aborts ("bool_dealloc:
deallocating True or False"). 6.11.x is not affected.

The fix is a PySide6 other than 6.12.0. Until one is installed, ``install_guard`` measures the defect once
and, only when it is present, a timer tops the three counts back up (a reference-count increment in place:
no memory is held). A warning names the real fix.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)

GUARD_PERIOD_MS = 200
REFCOUNT_FLOOR = 1_000_000  # keep each singleton's count above this (a few minutes of the worst leak rate)
REFCOUNT_TOPUP = 10_000_000
_SINGLETONS = (True, False, None)


class _Probe(QObject):
    fired = Signal()


def emit_leaks_references(trials: int = 64) -> bool:
    """True when emitting a signal from Python drops references to ``True`` (the 6.12.0 defect)."""
    if sys.version_info >= (3, 12):
        return False  # True/False/None are immortal: the defect is harmless
    probe = _Probe()
    probe.fired.connect(lambda: None)
    before = sys.getrefcount(True)
    for _ in range(trials):
        probe.fired.emit()
    leaked = before - sys.getrefcount(True)
    probe.deleteLater()
    return leaked >= trials // 2


def _top_up() -> None:
    for obj in _SINGLETONS:
        if sys.getrefcount(obj) < REFCOUNT_FLOOR:
            # ob_refcnt is the first field of every CPython object (< 3.12, non-immortal)
            ctypes.c_ssize_t.from_address(id(obj)).value += REFCOUNT_TOPUP


class RefcountGuard(QObject):
    """Tops up the singletons' counts every ``GUARD_PERIOD_MS`` (UI thread) while the app runs."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        _top_up()
        self._timer = QTimer(self)
        self._timer.timeout.connect(_top_up)  # a C++ timeout: does not itself leak
        self._timer.start(GUARD_PERIOD_MS)


def install_guard(app: QObject) -> RefcountGuard | None:
    """Install the guard on ``app`` when this PySide6 has the defect; None otherwise."""
    if not emit_leaks_references():
        return None
    import PySide6

    log.warning(
        "PySide6 %s drops a reference on every signal emit (Python %d.%d); working around it. "
        "Fix: pip install 'PySide6-Essentials>=6.6,!=6.12.0' (6.11.3 is known good).",
        PySide6.__version__,
        *sys.version_info[:2],
    )
    return RefcountGuard(app)
