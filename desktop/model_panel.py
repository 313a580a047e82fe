"""What the reasoning area shows while no model is loaded: what still works and how to get the weights."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop import theme

DOWNLOAD_COMMAND = "python main.py download"


def expected_layout() -> str:
    """The folder ``python main.py download`` writes for the default model, from the download's own catalogue."""
    from core.model.family import BERT, MEMBERS, TOWERS  # light: no torch, no hub client

    rows = [("config.json, model.safetensors, …", MEMBERS[0].hf_repo)]
    rows += [(f"towers/{t.folder}/", t.hf_repo) for t in TOWERS.values()]
    rows.append(("bert/", BERT.hf_repo))
    return "\n".join([f"{MEMBERS[0].name}/"] + [f"  {folder:<34} ← {repo}" for folder, repo in rows])


class ModelSetupPanel(QWidget):
    """Empty state for "no model": buttons to pick a folder or download, and the folder layout expected."""

    choose_folder_requested = Signal()
    download_requested = Signal()

    def __init__(self, default_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        t = theme.current()
        self.title = QLabel(self.tr("No model loaded"))
        self.title.setStyleSheet("font-size: 14pt; font-weight: bold;")
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_default_dir(default_dir)
        self.reason = QLabel("")
        self.reason.setTextFormat(Qt.TextFormat.PlainText)  # a load error quotes the model folder's own text
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet(f"color: {t.record};")
        self.reason.hide()
        choose = QPushButton(self.tr("Choose model folder…"))
        choose.clicked.connect(self.choose_folder_requested)
        download = QPushButton(self.tr("Download weights…"))
        download.clicked.connect(self.download_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(choose)
        buttons.addWidget(download)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(self.title)
        layout.addWidget(self.reason)
        layout.addWidget(self.body)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def set_default_dir(self, default_dir: str) -> None:
        muted = theme.current().muted
        self.body.setText(
            self.tr("Capture, the timeline, markers and recording work without it; analysis needs the R1-Omni "
                    "weights (about 7 GB to download, safetensors only).")
            + "<br><br>"
            + self.tr("<b>Download</b> (needs the Hugging Face hub, a mirror or ModelScope once, then works "
                      "offline):")
            + f"<br><code>&nbsp;&nbsp;{DOWNLOAD_COMMAND}</code> &nbsp; "
            + self.tr("or the button below")
            + f"<br><span style='color:{muted}'>"
            + self.tr("into {folder}").format(folder=html.escape(default_dir))
            + "</span><br><br>"
            + self.tr("<b>Or point to a local copy</b> with <i>Choose model folder…</i> (Ctrl+O). Expected layout:")
            + f"<pre style='color:{muted}'>{html.escape(expected_layout())}</pre>"
        )

    def set_reason(self, text: str) -> None:
        """Why the last load failed (shown above the instructions); empty hides it."""
        self.reason.setText(text)
        self.reason.setVisible(bool(text))
