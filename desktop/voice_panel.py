"""The "what did the voice add?" part of the evidence view: the attribution of the shown window, or how to get one.

A window is attributed by re-running it video-only (``core.attribution``) — automatically when the setting says so
and the device has time, or when the user presses the button here. The panel shows the state of that (not yet,
waiting for the model, running, done, failed, not possible) and, once done, the one-line answer ("the voice changed
fear → angry") with what it cost; the evidence view's details carry the full comparison (``attribution_html``).
Thread: the UI thread only.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core import labels as core_labels
from core.attribution import Attribution
from desktop import formatting, theme
from desktop.reasoning_panel import label_chip

NOT_YET = "not_yet"  # nothing asked; the button asks
QUEUED = "queued"  # asked, waiting until no live window needs the model
RUNNING = "running"
DONE = "done"
FAILED = "failed"
UNAVAILABLE = "unavailable"  # cannot be asked here (inputs no longer kept, no model, ...); ``message`` says why

BUTTON_TEXT = "Re-run video-only"


@dataclass(frozen=True)
class AttributionStatus:
    """What the panel shows for one window. ``attribution`` is set when ``state`` is ``DONE``; ``message`` explains
    ``FAILED`` and ``UNAVAILABLE``; ``waited`` counts re-runs that gave way to a live window."""

    state: str = NOT_YET
    attribution: Attribution | None = None
    message: str = ""
    waited: int = 0


def summary_html(attribution: Attribution) -> str:
    """``Attribution.summary`` with the labels as chips, plus the largest score shift (escaped pieces only)."""
    vo = attribution.video_only
    av_chip = label_chip(attribution.audio_visual_label, attribution.audio_visual_answer)
    if attribution.label_changed:
        text = f"<b>the voice changed</b> {label_chip(vo.label, vo.answer)} → {av_chip}"
    elif attribution.text_changed:
        text = f"<b>the voice kept</b> {av_chip}<b>; the reasoning changed</b>"
    else:
        text = f"<b>the voice changed nothing</b> &nbsp; {av_chip}"
    shift = attribution.largest_shift()
    if shift is not None:
        text += f" &nbsp; largest score shift {html.escape(shift[0])} {shift[1]:+.2f}"
    return text


def attribution_html(attribution: Attribution) -> str:
    """The full comparison for the evidence view's details: labels, answers, score shift, video-only reasoning."""
    muted = theme.current().muted
    vo = attribution.video_only
    rows = [
        ("", "with the voice (audio + video)", "without it (video only)"),
        ("label", label_chip(attribution.audio_visual_label, attribution.audio_visual_answer),
         label_chip(vo.label, vo.answer)),
        ("answer", f"<code>{html.escape(attribution.audio_visual_answer or '—')}</code>",
         f"<code>{html.escape(vo.answer or '—')}</code>"),
    ]
    table = "".join(f"<tr><td style='color:{muted}'>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
    parts = [
        "<h4 style='margin:2px 0'>What did the voice add?</h4>",
        f"<p>{summary_html(attribution)}</p>",
        f"<table cellspacing='4'>{table}</table>",
    ]
    shift = attribution.score_shift
    if shift:
        cells = "".join(
            f"<tr><td>{label_chip(name)}</td><td align='right'>{delta:+.2f}</td>"
            f"<td><span style='color:{core_labels.colour(name)}'>{'█' * round(abs(delta) * 20)}</span></td></tr>"
            for name, delta in sorted(shift.items(), key=lambda kv: -abs(kv[1])))
        parts.append(f"<p style='color:{muted}'>score shift per label (with the voice minus without it; the "
                     f"model's own preferences, not probabilities)</p><table cellspacing='3'>{cells}</table>")
    same_text = "the same reasoning" if not attribution.text_changed else "its own reasoning"
    parts.append(f"<p><b>Reasoning without the voice</b> ({same_text}):<br>"
                 f"{html.escape(vo.think or vo.text or '(no text)')}</p>")
    parts.append(f"<p style='color:{muted}'>video-only re-run: {formatting.seconds(attribution.seconds, 2)} on "
                 "the same frames and question (the official video-only path); an ablation of this window, not an "
                 "explanation of the model</p>")
    return "".join(parts)


class VoicePanel(QWidget):
    """Title, state line and the button that asks for an attribution (``attribution_requested(window_id)``)."""

    attribution_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._window_id: int | None = None
        title = QLabel("What did the voice add?")
        title.setStyleSheet(f"color: {theme.current().muted};")
        self.text = QLabel("")
        self.text.setTextFormat(Qt.TextFormat.RichText)  # built from escaped pieces only
        self.text.setWordWrap(True)
        self.button = QPushButton(BUTTON_TEXT)
        self.button.setToolTip("Analyse this window again without its audio (the official video-only path) and "
                               "compare the answers. Live windows go first.")
        self.button.clicked.connect(self._on_clicked)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(title)
        layout.addLayout(row)

    def show_status(self, window_id: int, status: AttributionStatus) -> None:
        self._window_id = window_id
        self.text.setText(self.status_html(status))
        self.button.setVisible(status.state in (NOT_YET, FAILED))
        self.button.setText("Try again" if status.state == FAILED else BUTTON_TEXT)

    @staticmethod
    def status_html(status: AttributionStatus) -> str:
        muted = theme.current().muted
        if status.state == DONE and status.attribution is not None:
            a = status.attribution
            return (f"{summary_html(a)} &nbsp; <span style='color:{muted}'>video-only re-run "
                    f"{formatting.seconds(a.seconds, 2)}</span>")
        if status.state == QUEUED:
            waited = f" (gave way to {status.waited} live window{'s' * (status.waited != 1)})" if status.waited else ""
            return f"<span style='color:{muted}'>waiting for the model: live windows go first{waited}</span>"
        if status.state == RUNNING:
            return f"<span style='color:{muted}'>re-running this window video-only…</span>"
        if status.state in (FAILED, UNAVAILABLE):
            return f"<span style='color:{theme.current().caution}'>⚠ {html.escape(status.message)}</span>"
        return f"<span style='color:{muted}'>not attributed yet</span>"

    def _on_clicked(self) -> None:
        if self._window_id is not None:
            self.attribution_requested.emit(self._window_id)
