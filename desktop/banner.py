"""A dismissible banner for errors and warnings: never a modal dialog while monitoring.

Messages are also logged. Repeats of the same text are counted ("×3"), not stacked.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from desktop import theme

log = logging.getLogger(__name__)

ERROR = "error"
WARNING = "warning"
INFO = "info"


class Banner(QFrame):
    """Shows the newest message; ✕ hides it until the next one. UI thread only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon = QLabel()
        self._text = QLabel()
        self._text.setTextFormat(Qt.TextFormat.PlainText)  # messages quote file names, model text, URLs
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._close = QToolButton()
        self._close.setText("✕")
        self._close.setToolTip(self.tr("Dismiss (Esc)"))
        self._close.setAutoRaise(True)
        self._close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        layout.addWidget(self._icon)
        layout.addWidget(self._text, 1)
        layout.addWidget(self._close)
        self.level: str | None = None
        self.message = ""
        self._repeats = 0
        self.history: list[tuple[str, str]] = []  # (level, message), oldest first
        self.hide()

    def show_message(self, level: str, message: str) -> None:
        """Show ``message`` (``level`` error | warning | info) and log it."""
        log.log({ERROR: logging.ERROR, WARNING: logging.WARNING}.get(level, logging.INFO), "%s", message)
        self.history.append((level, message))
        if message == self.message and not self.isHidden():
            self._repeats += 1
        else:
            self._repeats = 1
        self.level, self.message = level, message
        t = theme.current()
        bg = {ERROR: t.error, WARNING: t.warning}.get(level, t.panel)
        self.setStyleSheet(
            f"Banner {{ background: {bg}; border-radius: 4px; }}"
            f" QLabel, QToolButton {{ color: {t.banner_text}; }}"
        )
        self._icon.setText(f"<b>{ {ERROR: 'Error', WARNING: 'Warning'}.get(level, 'Note') }</b>")
        self._text.setText(message + (f"  (×{self._repeats})" if self._repeats > 1 else ""))
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.message = ""
        self._repeats = 0
