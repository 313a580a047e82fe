"""Download the weights from the app: ``python main.py download --dir DIR`` in a child process.

A child process rather than a thread because a hub download cannot be interrupted from inside: Cancel kills
the process at once, finished files stay, and the next download resumes. Progress is read from the
command's stderr ("fetching REPO -> DIR" per repository, tqdm's "NN%" within one). Non-modal: monitoring
goes on while it runs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MAIN_PY = Path(__file__).resolve().parent.parent / "main.py"
_PERCENT = re.compile(r"(\d{1,3})%\|")
_FETCHING = re.compile(r"^fetching (\S+) -> ")
LOG_LINES_KEPT = 200


def repository_count() -> int:
    from core.model.download import REPOS  # light: no torch, no hub client

    return len(REPOS)


class DownloadDialog(QDialog):
    """``finished_ok(folder)`` fires when the folder is complete. ``command`` replaces the real one in tests."""

    finished_ok = Signal(str)

    def __init__(
        self,
        folder: str,
        parent: QWidget | None = None,
        command: list[str] | None = None,
        steps: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download the R1-Omni weights")
        self.setModal(False)
        self.resize(640, 380)
        self._command = command
        self._steps = steps or repository_count()
        self._step = -1
        self._partial = ""
        self.state = "idle"  # idle | running | done | failed | cancelled
        self.folder_edit = QLineEdit(folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(QLabel("Folder"))
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        note = QLabel(
            "About 7 GB from the Hugging Face hub (R1-Omni-0.5B, Whisper-large-v3, SigLIP, BERT "
            "vocabulary). Interrupted downloads resume. Needs internet once; then the app works offline."
        )
        note.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES_KEPT)
        self.start_button = QPushButton("Download")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(note)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)
        layout.addLayout(buttons)
        self._process = QProcess(self)
        self._process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self._process.readyReadStandardOutput.connect(self._on_output)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_process_error)

    @property
    def folder(self) -> str:
        return self.folder_edit.text().strip()

    def start(self) -> None:
        if self.state == "running" or not self.folder:
            return
        command = self._command or [sys.executable, str(MAIN_PY), "download", "--dir", self.folder]
        self.state = "running"
        self._step = -1
        self.progress.setValue(0)
        self.status.setText("Starting…")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._process.start(command[0], command[1:])

    def cancel(self) -> None:
        if self.state != "running":
            return
        self.state = "cancelled"
        self._process.kill()
        self.status.setText("Cancelled. Files already fetched are kept; Download resumes from there.")

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the weights", self.folder)
        if path:
            self.folder_edit.setText(path)

    def _on_output(self) -> None:
        text = self._partial + bytes(self._process.readAllStandardOutput()).decode("utf-8", "replace")
        pieces = re.split(r"[\r\n]", text)
        self._partial = pieces.pop()  # an unfinished line waits for the rest
        for line in filter(None, (p.strip() for p in pieces)):
            self._on_line(line)

    def _on_line(self, line: str) -> None:
        fetching = _FETCHING.match(line)
        if fetching:
            self._step += 1
            self.status.setText(f"{min(self._step + 1, self._steps)}/{self._steps}: {fetching.group(1)}")
            self.log.appendPlainText(line)
        percent = _PERCENT.search(line)
        if percent:
            within = int(percent.group(1)) / 100.0
            step = max(self._step, 0)
            self.progress.setValue(int(1000 * min(1.0, (step + within) / self._steps)))
        elif not fetching:
            self.log.appendPlainText(line)

    def _on_finished(self, code: int, _status) -> None:
        if self._partial.strip():
            self._on_line(self._partial.strip())
            self._partial = ""
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.state == "cancelled":
            return
        if code == 0:
            self.state = "done"
            self.progress.setValue(1000)
            self.status.setText(f"Done: {self.folder}")
            self.finished_ok.emit(self.folder)
        else:
            self.state = "failed"
            last = self.log.toPlainText().strip().splitlines()[-1:] or ["(no output)"]
            self.status.setText(f"Failed: {last[0]}")

    def _on_process_error(self, error) -> None:
        if self.state == "running" and error == QProcess.ProcessError.FailedToStart:
            self.state = "failed"
            self.status.setText(f"Could not start the download: {self._process.errorString()}")
            self.start_button.setEnabled(True)
            self.cancel_button.setEnabled(False)

    def closeEvent(self, event) -> None:
        if self.state == "running":
            self.cancel()
            self._process.waitForFinished(3000)
        super().closeEvent(event)
