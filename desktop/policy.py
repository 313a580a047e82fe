"""The R1-Omni usage-policy notice, shown once on first launch (non-modal) and kept in Settings."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop import theme

POLICY_TEXT = QT_TRANSLATE_NOOP(
    "PolicyNotice",
    "<b>Usage policy.</b> R1-Omni infers emotions from faces and voices. Its licence restricts emotion inference "
    "in <b>workplace and education settings</b> to where local law permits it. Tell the people you record, "
    "get their consent, and record only what your study needs. This notice is also stored with every session."
)


class PolicyNotice(QFrame):
    """A strip above the workspace with "I understand"; ``acknowledged`` fires once it is pressed.

    Not a modal dialog: the app is fully usable while it shows (scripted runs are never blocked).
    """

    acknowledged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        t = theme.current()
        self.setObjectName("policyNotice")
        self.setStyleSheet(
            f"#policyNotice {{ background: {t.panel}; border: 1px solid {t.accent}; border-radius: 4px; }}"
        )
        text = QLabel(self.tr(POLICY_TEXT))
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        ok = QPushButton(self.tr("I understand"))
        ok.clicked.connect(self._ack)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(text, 1)
        layout.addWidget(ok)

    def _ack(self) -> None:
        self.hide()
        self.acknowledged.emit()
