"""The "Remote server…" dialog: a model server's address, its token and the certificate to trust.

The token field starts empty: a token already stored for the address (keyring or a 0600 file, never the
settings file) is kept unless a new one is typed. Nothing here touches the network or the keyring; the main
window does that off the UI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.serve.client import RemoteTarget

HINT = QT_TRANSLATE_NOOP("RemoteServerDialog", "A computer running <code>python main.py serve</code>. Beyond this "
                         "machine the server uses <b>https</b> and a token; plain http is accepted for 127.0.0.1 only.")


class RemoteServerDialog(QDialog):
    def __init__(self, url: str = "", ca_file: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Remote model server"))
        self.url = QLineEdit(url or "https://")
        self.url.setPlaceholderText("https://gpu-server:8000")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(self.tr("leave empty to keep the stored token"))
        self.ca_file = QLineEdit(ca_file)
        self.ca_file.setPlaceholderText(self.tr("system certificates"))
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file)
        ca_row.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.tr("Server"), self.url)
        form.addRow(self.tr("Token"), self.token)
        form.addRow(self.tr("Trust certificate"), ca_row)
        hint = QLabel(self.tr(HINT))
        hint.setWordWrap(True)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #e06c75;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Connect"))
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str | None, str]:
        """(server URL as written by ``RemoteTarget``, a new token or None, the CA file or '')."""
        token = self.token.text().strip() or None
        target = RemoteTarget.parse(self.url.text(), token, self.ca_file.text().strip() or None)
        return target.url, token, self.ca_file.text().strip()

    def _check(self) -> None:
        try:
            self.values()
        except ValueError as exc:
            self.problem.setText(str(exc))
            return
        self.accept()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Certificate to trust (PEM)"), "",
                                              self.tr("PEM (*.pem *.crt);;All (*)"))
        if path:
            self.ca_file.setText(path)
