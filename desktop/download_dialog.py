"""Download a checkpoint from the app: ``python main.py download --progress json ...`` in a child process.

A child process rather than a thread because a transfer cannot be interrupted from inside: Cancel kills the
process at once, finished files stay, and the next download resumes. The command reports on stderr one JSON
object per line (``log``, ``progress`` with bytes, speed and time left, ``error`` with a kind, ``done``); the
dialog shows them in the window's language (the English detail from core goes to the log pane). Non-modal:
monitoring goes on while it runs. Thread: the UI thread (QProcess signals).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QProcess, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.model import hub_files as hf
from core.model.family import DEFAULT_MEMBER, MEMBERS, Member, find_member, member_names

MAIN_PY = Path(__file__).resolve().parent.parent / "main.py"
LOG_LINES_KEPT = 200
PROGRESS_STEPS = 1000
HUBS = (("huggingface", "Hugging Face"), ("modelscope", "ModelScope"))
MIRROR_EXAMPLE = "https://hf-mirror.com"


def failure_text(kind: str) -> str:
    """One sentence per failure kind of core.model.hub_files, in the window's language."""
    texts = {
        hf.UNREACHABLE: QCoreApplication.translate(
            "DownloadDialog", "The hub cannot be reached. Check the network, or try a mirror or ModelScope."),
        hf.AUTH: QCoreApplication.translate(
            "DownloadDialog", "Access refused: log in (HF_TOKEN) and accept the model's licence on its page."),
        hf.NOT_FOUND: QCoreApplication.translate(
            "DownloadDialog", "Not found: check the model name and the mirror address."),
        hf.DISK_FULL: QCoreApplication.translate(
            "DownloadDialog", "The disk is full: free space or choose another folder, then download again."),
        hf.INTERRUPTED: QCoreApplication.translate(
            "DownloadDialog", "The transfer was interrupted. Download again to resume where it stopped."),
        hf.SIZE: QCoreApplication.translate(
            "DownloadDialog", "A file arrived damaged or incomplete. Download again."),
        hf.MISSING_PACKAGE: QCoreApplication.translate(
            "DownloadDialog", "ModelScope needs the modelscope package: pip install modelscope."),
        hf.BAD_INPUT: QCoreApplication.translate(
            "DownloadDialog", "The hub's answer cannot be used (see the log below)."),
    }
    return texts.get(kind, QCoreApplication.translate("DownloadDialog", "The download failed (see the log below)."))


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    if minutes:
        return QCoreApplication.translate("DownloadDialog", "{m} min {s} s left").format(m=minutes, s=secs)
    return QCoreApplication.translate("DownloadDialog", "{s} s left").format(s=secs)


class DownloadDialog(QDialog):
    """``finished_ok(folder)`` fires when the folder is complete. ``command`` replaces the real one in tests
    (it gets the same arguments appended)."""

    finished_ok = Signal(str)

    def __init__(self, folder: str, parent: QWidget | None = None, command: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Download model weights"))
        self.setModal(False)
        self.resize(680, 460)
        self._command = command
        self._partial = ""
        self._default_parent = str(Path(folder).parent)
        self.state = "idle"  # idle | running | done | failed | cancelled
        self.failure_kind = ""  # core.model.hub_files kind of the last failure
        self._build(folder)
        self._process = QProcess(self)
        self._process.readyReadStandardError.connect(self._on_output)
        self._process.readyReadStandardOutput.connect(self._process.readAllStandardOutput)  # the folder path
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_process_error)

    def _build(self, folder: str) -> None:
        self.model_box = QComboBox()
        for m in MEMBERS:
            self.model_box.addItem(m.name, m.name)
        self.model_box.setCurrentIndex(self.model_box.findData(DEFAULT_MEMBER))
        self.model_box.currentIndexChanged.connect(self._on_model_changed)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.hub_box = QComboBox()
        for key, name in HUBS:
            self.hub_box.addItem(name, key)
        self.mirror_edit = QLineEdit()
        self.mirror_edit.setPlaceholderText(self.tr("default address; a mirror, e.g. {url}").format(url=MIRROR_EXAMPLE))
        self.mirror_edit.setToolTip(self.tr("Leave empty for the hub itself (or HF_ENDPOINT when it is set)"))
        self.folder_edit = QLineEdit(folder)
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.tr("Model"), self.model_box)
        form.addRow("", self.model_info)
        form.addRow(self.tr("Hub"), self.hub_box)
        form.addRow(self.tr("Mirror"), self.mirror_edit)
        form.addRow(self.tr("Folder"), folder_row)
        note = QLabel(self.tr("Only safetensors, configurations and tokenizer files are fetched. Interrupted "
                              "downloads resume. Needs internet once; then the app works offline."))
        note.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES_KEPT)
        self.start_button = QPushButton(self.tr("Download"))
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)
        layout.addLayout(buttons)
        self._on_model_changed()

    @property
    def folder(self) -> str:
        return self.folder_edit.text().strip()

    @property
    def member(self) -> Member:
        name = self.model_box.currentData()
        return find_member(name)

    def arguments(self) -> list[str]:
        """The download command's arguments for the current choices."""
        args = ["--dir", self.folder, "--model", self.member.name, "--hub", self.hub_box.currentData(),
                "--progress", "json"]
        mirror = self.mirror_edit.text().strip()
        return args + (["--endpoint", mirror] if mirror else [])

    def _on_model_changed(self, *_args) -> None:
        m = self.member
        text = self.tr("About {size} GB to download; needs about {memory} GB of memory (16-bit) to run.")
        self.model_info.setText(text.format(size=f"{m.download_gb:g}", memory=f"{m.memory_gb:g}"))
        current = Path(self.folder) if self.folder else None
        if current is None or current.name in member_names():  # follow the choice unless edited
            self.folder_edit.setText(str(Path(self._default_parent) / m.name))

    def start(self) -> None:
        if self.state == "running" or not self.folder:
            return
        base = self._command or [sys.executable, str(MAIN_PY), "download"]
        command = base + self.arguments()
        self.state = "running"
        self.failure_kind = ""
        self.progress.setValue(0)
        self.status.setText(self.tr("Starting…"))
        self._set_running(True)
        self._process.start(command[0], command[1:])

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (self.model_box, self.hub_box, self.mirror_edit, self.folder_edit):
            w.setEnabled(not running)

    def cancel(self) -> None:
        if self.state != "running":
            return
        self.state = "cancelled"
        self._process.kill()
        self.status.setText(self.tr("Cancelled. Files already fetched are kept; Download resumes from there."))

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.tr("Folder for the weights"), self.folder)
        if path:
            self.folder_edit.setText(path)

    def _on_output(self) -> None:
        text = self._partial + bytes(self._process.readAllStandardError()).decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()  # an unfinished line waits for the rest
        for line in filter(None, (x.strip() for x in lines)):
            self._on_line(line)

    def _on_line(self, line: str) -> None:
        try:
            event = json.loads(line) if line.startswith("{") else None
        except json.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            self.log.appendPlainText(line)  # a warning from a library, a traceback
            return
        kind = event.get("event")
        if kind == "progress":
            self._on_progress(event)
        elif kind == "log":
            self.log.appendPlainText(str(event.get("text", "")))
        elif kind == "error":
            self.failure_kind = str(event.get("kind", ""))
            self.log.appendPlainText(f"{event.get('problem', '')}\nFix: {event.get('fix', '')}")

    def _on_progress(self, e: dict) -> None:
        try:
            done, total = int(e["done"]), max(1, int(e["total"]))
            speed = float(e.get("speed") or 0.0)
            eta = None if e.get("eta") is None else float(e["eta"])
        except (KeyError, TypeError, ValueError):
            return
        self.progress.setValue(int(PROGRESS_STEPS * min(1.0, done / total)))
        text = self.tr("{done} of {total} · {speed}/s").format(
            done=hf.human_bytes(done), total=hf.human_bytes(total), speed=hf.human_bytes(speed))
        eta_text = format_eta(eta) if done < total else ""
        self.status.setText(f"{text} · {eta_text}" if eta_text else text)

    def _on_finished(self, code: int, _status) -> None:
        if self._partial.strip():
            self._on_line(self._partial.strip())
            self._partial = ""
        self._set_running(False)
        if self.state == "cancelled":
            return
        if code == 0:
            self.state = "done"
            self.progress.setValue(PROGRESS_STEPS)
            self.status.setText(self.tr("Done: {folder}").format(folder=self.folder))
            self.finished_ok.emit(self.folder)
        else:
            self.state = "failed"
            self.status.setText(failure_text(self.failure_kind))

    def _on_process_error(self, error) -> None:
        if self.state == "running" and error == QProcess.ProcessError.FailedToStart:
            self.state = "failed"
            self.status.setText(self.tr("Could not start the download: {error}").format(
                error=self._process.errorString()))
            self._set_running(False)

    def closeEvent(self, event) -> None:
        if self.state == "running":
            self.cancel()
            self._process.waitForFinished(3000)
        super().closeEvent(event)
