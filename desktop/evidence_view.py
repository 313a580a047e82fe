"""Evidence for one analysed window: the frames (8 for R1-Omni; as many as the model's config samples) and the
audio the model saw, its reasoning, answer, parse status, consistency checks, per-label scores, stage timings and
what the voice added (its video-only re-run, ``desktop.voice_panel``) — so a user can judge the call, not just
read it."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core import labels as core_labels
from core.results import WindowResult
from core.window import DEFAULT_MODEL_FRAMES, MODEL_SAMPLE_RATE_HZ, Window, model_frame_indices
from desktop import formatting, i18n, theme
from desktop.audio_view import min_max_envelope
from desktop.evidence_store import FRAMES_IN_WINDOW_KEY
from desktop.reasoning_panel import caution_html, check_title, flags_html, label_chip, parse_status_text
from desktop.timeline_axis import ClockAxis
from desktop.voice_panel import DONE, AttributionStatus, VoicePanel, attribution_html

THUMB_HEIGHT_PX = 84
AUDIO_BINS = 600


def plain_label(label: QLabel) -> QLabel:
    """``label`` showing its text as plain text: bundle and model text (names, notes, errors) is never markup."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def to_pixmap(frame: np.ndarray, height_px: int = THUMB_HEIGHT_PX) -> QPixmap:
    """uint8 [H, W, 3] RGB → a QPixmap scaled to ``height_px`` (the array is copied into the image)."""
    rgb = np.ascontiguousarray(frame)
    h, w, _ = rgb.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaledToHeight(height_px, Qt.TransformationMode.SmoothTransformation)


class EvidenceView(QWidget):
    """Shows ``show_window(result, window)``; ``window`` may be None when its frames are no longer kept. The
    attribution of the shown window comes with ``show_attribution``; ``attribution_requested(window_id)`` fires
    when the user asks for one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        t = theme.current()
        self.window_id: int | None = None
        self._shown: tuple[WindowResult, Window | None, str | None] | None = None
        self._attribution = AttributionStatus()
        self.header = QLabel(self.tr("Select a span on the timeline or a history row to see what the model saw."))
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)  # built from escaped pieces only (label_chip, html.escape)
        self.voice = VoicePanel()
        self.voice.setVisible(False)
        self.attribution_requested = self.voice.attribution_requested
        self._frames_title = plain_label(QLabel(self.tr("The {n} frames the model saw").format(n=DEFAULT_MODEL_FRAMES)))
        self._frames_title.setStyleSheet(f"color: {t.muted};")
        self._frames_title.setWordWrap(True)  # long captions must not widen the panel
        strip = QWidget()
        self._strip = QGridLayout(strip)
        self._strip.setContentsMargins(0, 0, 0, 0)
        self._strip.setHorizontalSpacing(3)
        self.thumbs: list[QLabel] = []
        self._thumb_times: list[QLabel] = []
        self._set_thumb_count(DEFAULT_MODEL_FRAMES)  # until a result says how many frames the model saw
        self._pixmaps: list[QPixmap] = []  # full-size thumbnails; scaled to the strip's width on resize

        self.audio_title = plain_label(QLabel(self.tr("Audio the model heard")))  # shows statuses read from a bundle
        self.audio_title.setStyleSheet(f"color: {t.muted};")
        self.audio_title.setWordWrap(True)
        self._audio_plot = pg.PlotWidget(axisItems={"bottom": ClockAxis("bottom")})
        self._audio_plot.setMenuEnabled(False)
        self._audio_plot.setMouseEnabled(x=False, y=False)
        self._audio_plot.hideButtons()
        self._audio_plot.setYRange(-1, 1, padding=0.02)
        self._audio_plot.setFixedHeight(70)
        self._audio_plot.getAxis("left").setWidth(34)
        self._audio_plot.getAxis("left").setTicks([[(-1, "-1"), (0, "0"), (1, "1")]])
        self._audio_curve = self._audio_plot.plot(pen=pg.mkPen("#6fc2a0", width=1))

        self.details = QTextBrowser()
        self.details.setOpenLinks(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.voice)
        layout.addWidget(self._frames_title)
        layout.addWidget(strip)
        layout.addWidget(self.audio_title)
        layout.addWidget(self._audio_plot)
        layout.addWidget(self.details, 1)

    def _set_thumb_count(self, n: int) -> None:
        """As many thumbnail cells as frames the model saw (the strip follows each result's frame count)."""
        t = theme.current()
        while len(self.thumbs) > n:
            for w in (self.thumbs.pop(), self._thumb_times.pop()):
                self._strip.removeWidget(w)
                w.deleteLater()
        while len(self.thumbs) < n:
            i = len(self.thumbs)
            thumb = QLabel()
            thumb.setMinimumSize(8, 8)
            thumb.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            thumb.setFixedHeight(THUMB_HEIGHT_PX)
            thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
            thumb.setStyleSheet(f"background: {t.base};")
            caption = plain_label(QLabel(""))
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setStyleSheet(f"color: {t.muted}; font-size: 8pt;")
            self._strip.addWidget(thumb, 0, i)
            self._strip.addWidget(caption, 1, i)
            self.thumbs.append(thumb)
            self._thumb_times.append(caption)

    def apply_theme(self, t: Any) -> None:
        """Draw the shown window again: its header and details are rich text in theme colours."""
        if self._shown is not None:
            self.show_window(*self._shown, attribution=self._attribution)

    def show_window(self, result: WindowResult, window: Window | None, frames_note: str | None = None,
                    attribution: AttributionStatus | None = None) -> None:
        """Fill every part of the view for ``result`` (UI thread); ``frames_note`` says why frames are missing;
        ``attribution``: what is known of its video-only re-run (default: nothing yet)."""
        self._shown = (result, window, frames_note)
        self.window_id = result.window_id
        a = result.analysis
        status = parse_status_text(a.parse_status)
        faces = result.face_check
        note = faces.short_warning() if faces is not None else None
        flags = flags_html(result.consistency)
        title = self.tr("window #{id}").format(id=result.window_id)
        self.header.setText(
            f"<b>{html.escape(title)}</b> &nbsp; {formatting.span(result.t0, result.t1)}"
            f" ({formatting.seconds(result.t1 - result.t0)}) &nbsp; {label_chip(a.label, a.answer)}"
            f" &nbsp; {html.escape(status)}" + (f" &nbsp; {caution_html(note)}" if note else "")
            + (f" &nbsp; {caution_html(self.tr('approximate (fast profile)'))}" if a.profile != "exact" else "")
            + (f"<br>{flags}" if flags else "")
        )
        self._show_frames(window, result.faces, result.frame_indices, frames_note)
        self._show_audio(result, window)
        self.show_attribution(attribution or AttributionStatus())

    def show_attribution(self, status: AttributionStatus) -> None:
        """The shown window's attribution state (UI thread); redraws the voice line and the details."""
        self._attribution = status
        if self._shown is None:
            return
        result = self._shown[0]
        self.voice.setVisible(True)
        self.voice.show_status(result.window_id, status)
        done = status.attribution if status.state == DONE else None
        self.details.setHtml(self._details_html(result, attribution_html(done) if done is not None else ""))

    def _show_frames(self, window: Window | None, faces: tuple[int, ...] | None = None,
                     seen: tuple[int, ...] | None = None, note: str | None = None) -> None:
        """``seen``: the result's frame_indices into the full window (their count is the model's num_frames)."""
        if window is None or len(window.frames) == 0:
            self._pixmaps = []
            for thumb, caption in zip(self.thumbs, self._thumb_times):
                thumb.clear()
                thumb.setText("—")
                caption.setText("")
            self._frames_title.setText(
                note or self.tr("Frames of this window are no longer in memory (see the session recording)")
            )
            return
        n_total = int(window.source.get(FRAMES_IN_WINDOW_KEY, len(window.frames)))
        if FRAMES_IN_WINDOW_KEY in window.source:  # an evidence copy: it holds just the frames the model saw
            picked = np.arange(len(window.frames))
        elif seen and max(seen) < len(window.frames):
            picked = np.asarray(seen, np.int64)
        else:
            picked = model_frame_indices(len(window.frames), len(seen) if seen else DEFAULT_MODEL_FRAMES)
        self._set_thumb_count(len(picked))
        self._frames_title.setText(
            self.tr("The {n} frames the model saw (sampled uniformly from the {total} frames of the window)").format(
                n=len(picked), total=n_total)
        )
        self._pixmaps = []
        counts = faces if faces is not None and len(faces) == len(picked) else (None,) * len(picked)
        for caption, idx, n in zip(self._thumb_times, picked, counts):
            self._pixmaps.append(to_pixmap(window.frames[idx], 2 * THUMB_HEIGHT_PX))
            if n is None:
                face_text = ""
            else:
                face_text = "\n" + (self.tr("1 face") if n == 1 else self.tr("{n} faces").format(n=n))
            caption.setText(formatting.clock(float(window.frame_times[idx])) + face_text)
        self._fit_thumbs()

    def _fit_thumbs(self) -> None:
        """Scale the thumbnails so that all fit side by side in the current width."""
        if not self._pixmaps:
            return
        count = len(self._pixmaps)
        spacing = self._strip.horizontalSpacing() * (count - 1)
        cell_w = max(16, (self.width() - 8 - spacing) // count)
        for thumb, pixmap in zip(self.thumbs, self._pixmaps):
            h = min(THUMB_HEIGHT_PX, int(cell_w * pixmap.height() / max(pixmap.width(), 1)))
            thumb.setFixedHeight(h)
            thumb.setPixmap(pixmap.scaledToHeight(h, Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_thumbs()

    def _show_audio(self, result: WindowResult, window: Window | None) -> None:
        if window is None or window.audio is None or window.audio.size == 0:
            self._audio_curve.setData([], [])
            why = self.tr("not kept in memory") if window is None else result.audio_status
            self.audio_title.setText(
                self.tr("Audio the model heard: none ({why}) — video-only analysis").format(why=why)
                if result.analysis.modal == "video"
                else self.tr("Audio: {why}").format(why=why)
            )
            return
        idx, y = min_max_envelope(window.audio, AUDIO_BINS)
        self._audio_curve.setData(window.t0 + idx / MODEL_SAMPLE_RATE_HZ, y)
        self._audio_plot.setXRange(window.t0, window.t0 + window.audio.size / MODEL_SAMPLE_RATE_HZ, padding=0)
        self.audio_title.setText(
            self.tr("Audio the model heard: {length} at 16 kHz, status {status} (padded to 30 s inside the "
                    "model)").format(length=formatting.seconds(window.audio.size / MODEL_SAMPLE_RATE_HZ),
                                     status=result.audio_status)
        )

    def _details_html(self, result: WindowResult, attribution: str = "") -> str:
        """Rich text of everything known about the window; ``attribution``: its comparison section, if any."""
        a = result.analysis
        muted = theme.current().muted

        def heading(text: str) -> str:
            return f"<h4 style='margin:2px 0'>{html.escape(text)}</h4>"

        answer = self.tr("<b>Answer:</b> {chip} &nbsp; raw: {raw} &nbsp; label set {labels}").format(
            chip=label_chip(a.label, a.answer), raw=f"<code>{html.escape(a.answer or '—')}</code>",
            labels=html.escape(a.label_set))
        parts = [
            heading(self.tr("Reasoning")) + "<p>" + html.escape(a.think or self.tr("(no <think> text)")) + "</p>",
            f"<p>{answer}</p>",
        ]
        checks = result.consistency
        named = " / ".join(i18n.label_name(label) for label in checks.conclusion)
        concluded = (self.tr("the reasoning concludes {labels}").format(labels=named)
                     if checks.conclusion else self.tr("the reasoning names no emotion of the label set"))
        found = "".join(f"<br>{caution_html(check_title(f.check) + ': ' + f.reason)}" for f in checks.flags)
        rules = self.tr("word rules over the reasoning (emotion words and negations, speech words against the "
                        "audio, one person against the faces in view): they inform, they do not change the answer")
        parts.append(
            heading(self.tr("Consistency"))
            + f"<p>{html.escape(concluded)}{found or html.escape(self.tr('; no check failed'))}<br>"
            f"<span style='color:{muted}'>{html.escape(rules)}</span></p>"
        )
        if attribution:
            parts.append(attribution)
        faces = result.face_check
        if faces is not None:
            note = faces.warning()
            counts = " ".join(str(c) for c in faces.counts)
            parts.append(
                heading(self.tr("Faces in view"))
                + "<p>" + html.escape(self.tr("frontal faces per frame the model saw: {counts}").format(counts=counts))
                + (f"<br>{caution_html(note)}" if note else "")
                + f"<br><span style='color:{muted}'>"
                + html.escape(self.tr("a frontal-face detector: it misses profiles and covered faces; it informs, it "
                                 "does not change the answer"))
                + "</span></p>"
            )
        if a.scores:
            rows = "".join(
                f"<tr><td>{label_chip(name)}</td><td align='right'>{value:.2f}</td>"
                f"<td><span style='color:{core_labels.colour(name)}'>{'█' * round(value * 20)}</span></td></tr>"
                for name, value in sorted(a.scores.items(), key=lambda kv: -kv[1])
            )
            parts.append(
                heading(self.tr("Model preference over the label set"))
                + f"<p style='color:{muted}'>"
                + html.escape(self.tr("the model's own preference, not a calibrated probability"))
                + f"</p><table cellspacing='3'>{rows}</table>"
            )
        timings = "".join(
            f"<tr><td>{html.escape(k)}</td><td align='right'>{formatting.seconds(v, 2)}</td></tr>"
            for k, v in a.timings.items()
        )
        parts.append(
            heading(self.tr("Timings")) + "<table cellspacing='3'>"
            f"{timings}<tr><td>" + html.escape(self.tr("result age at arrival")) + "</td>"
            f"<td align='right'>{formatting.seconds(result.finished_at - result.t1)}</td></tr></table>"
        )
        parts.append(
            heading(self.tr("Raw output ({n} tokens)").format(n=len(a.token_ids)))
            + f"<pre style='white-space:pre-wrap'>{html.escape(a.text)}</pre>"
        )
        return "".join(parts)
