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

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core import labels as core_labels
from core.attribution import Attribution
from desktop import formatting, i18n, theme
from desktop.reasoning_panel import label_chip

NOT_YET = "not_yet"  # nothing asked; the button asks
QUEUED = "queued"  # asked, waiting until no live window needs the model
RUNNING = "running"
DONE = "done"
FAILED = "failed"
UNAVAILABLE = "unavailable"  # cannot be asked here (inputs no longer kept, no model, ...); ``message`` says why



@dataclass(frozen=True)
class AttributionStatus:
    """What the panel shows for one window. ``attribution`` is set when ``state`` is ``DONE``; ``message`` explains
    ``FAILED`` and ``UNAVAILABLE``; ``waited`` counts re-runs that gave way to a live window."""

    state: str = NOT_YET
    attribution: Attribution | None = None
    message: str = ""
    waited: int = 0


def summary_html(attribution: Attribution) -> str:
    """``Attribution.summary`` in the window's language with the labels as chips, plus the largest score shift
    (escaped pieces only)."""
    vo = attribution.video_only
    av_chip = label_chip(attribution.audio_visual_label, attribution.audio_visual_answer)
    if attribution.label_changed:
        text = QCoreApplication.translate("VoicePanel", "the voice changed {before} → {after}").format(
            before=label_chip(vo.label, vo.answer), after=av_chip)
    elif attribution.text_changed:
        text = QCoreApplication.translate("VoicePanel", "the voice kept {label}; the reasoning changed").format(
            label=av_chip)
    else:
        text = QCoreApplication.translate("VoicePanel", "the voice changed nothing {label}").format(label=av_chip)
    shift = attribution.largest_shift()
    if shift is not None:
        text += " &nbsp; " + html.escape(QCoreApplication.translate("VoicePanel", "largest score shift {label} {shift}")
                                         .format(label=i18n.label_name(shift[0]), shift=f"{shift[1]:+.2f}"))
    return f"<b>{text}</b>"


def attribution_html(attribution: Attribution) -> str:
    """The full comparison for the evidence view's details: labels, answers, score shift, video-only reasoning."""
    muted = theme.current().muted
    vo = attribution.video_only

    def t(text: str) -> str:  # already translated; escaped for rich text
        return html.escape(text)

    rows = [
        ("", t(QCoreApplication.translate("VoicePanel", "with the voice (audio + video)")),
         t(QCoreApplication.translate("VoicePanel", "without it (video only)"))),
        (t(QCoreApplication.translate("VoicePanel", "label")),
         label_chip(attribution.audio_visual_label, attribution.audio_visual_answer), label_chip(vo.label, vo.answer)),
        (t(QCoreApplication.translate("VoicePanel", "answer")),
         f"<code>{html.escape(attribution.audio_visual_answer or '—')}</code>",
         f"<code>{html.escape(vo.answer or '—')}</code>"),
    ]
    table = "".join(f"<tr><td style='color:{muted}'>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
    heading = t(QCoreApplication.translate("VoicePanel", "What did the voice add?"))
    parts = [
        f"<h4 style='margin:2px 0'>{heading}</h4>",
        f"<p>{summary_html(attribution)}</p>",
        f"<table cellspacing='4'>{table}</table>",
    ]
    shift = attribution.score_shift
    if shift:
        cells = "".join(
            f"<tr><td>{label_chip(name)}</td><td align='right'>{delta:+.2f}</td>"
            f"<td><span style='color:{core_labels.colour(name)}'>{'█' * round(abs(delta) * 20)}</span></td></tr>"
            for name, delta in sorted(shift.items(), key=lambda kv: -abs(kv[1])))
        note = QCoreApplication.translate("VoicePanel", "score shift per label (with the voice minus without it; the "
                                                   "model's own preferences, not probabilities)")
        parts.append(f"<p style='color:{muted}'>{t(note)}</p><table cellspacing='3'>{cells}</table>")
    title = (QCoreApplication.translate("VoicePanel", "Reasoning without the voice (the same reasoning)")
             if not attribution.text_changed
             else QCoreApplication.translate("VoicePanel", "Reasoning without the voice (its own reasoning)"))
    text = vo.think or vo.text or QCoreApplication.translate("VoicePanel", "(no text)")
    parts.append(f"<p><b>{t(title)}</b>:<br>{html.escape(text)}</p>")
    cost = QCoreApplication.translate("VoicePanel", "video-only re-run: {seconds} on the same frames and question (the "
                                               "official video-only path); an ablation of this window, not an "
                                               "explanation of the model")
    parts.append(f"<p style='color:{muted}'>{t(cost.format(seconds=formatting.seconds(attribution.seconds, 2)))}"
                 "</p>")
    return "".join(parts)


class VoicePanel(QWidget):
    """Title, state line and the button that asks for an attribution (``attribution_requested(window_id)``)."""

    attribution_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._window_id: int | None = None
        title = QLabel(self.tr("What did the voice add?"))
        title.setStyleSheet(f"color: {theme.current().muted};")
        self.text = QLabel("")
        self.text.setTextFormat(Qt.TextFormat.RichText)  # built from escaped pieces only
        self.text.setWordWrap(True)
        self.button = QPushButton(self.tr("Re-run video-only"))
        self.button.setToolTip(self.tr("Analyse this window again without its audio (the official video-only path) "
                                       "and compare the answers. Live windows go first."))
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
        self.button.setText(self.tr("Try again") if status.state == FAILED else self.tr("Re-run video-only"))

    def status_html(self, status: AttributionStatus) -> str:
        muted = theme.current().muted

        def quiet(text: str) -> str:
            return f"<span style='color:{muted}'>{html.escape(text)}</span>"

        if status.state == DONE and status.attribution is not None:
            a = status.attribution
            cost = self.tr("video-only re-run {seconds}").format(seconds=formatting.seconds(a.seconds, 2))
            return f"{summary_html(a)} &nbsp; {quiet(cost)}"
        if status.state == QUEUED:
            text = self.tr("waiting for the model: live windows go first")
            if status.waited:
                text += " " + self.tr("(gave way to live windows {n} times)").format(n=status.waited)
            return quiet(text)
        if status.state == RUNNING:
            return quiet(self.tr("re-running this window video-only…"))
        if status.state in (FAILED, UNAVAILABLE):
            return f"<span style='color:{theme.current().caution}'>⚠ {html.escape(status.message)}</span>"
        return quiet(self.tr("not compared without the voice yet"))

    def _on_clicked(self) -> None:
        if self._window_id is not None:
            self.attribution_requested.emit(self._window_id)
