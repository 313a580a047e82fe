"""The status bar: how the live pipeline is doing, refreshed about once a second."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from desktop import formatting, theme


@dataclass(frozen=True)
class StatusSnapshot:
    """Numbers shown in the status bar; ``None`` means unknown / not applicable."""

    capture_fps: float | None = None  # video frames/s arriving from the source
    preview_fps: float | None = None  # frames/s the preview actually drew
    audio_rate_hz: int | None = None  # None: no microphone
    audio_overflows: int = 0
    last_latency_s: float | None = None  # window end -> result
    last_compute_s: float | None = None  # time in the model for the last window
    first_token_s: float | None = None  # model start -> first reasoning text of the last window
    network_s: float | None = None  # a model server: the part of last_compute_s spent on the network
    result_age_s: float | None = None  # now - end of the newest result's window
    superseded: int = 0  # windows replaced in the mailbox before the model took them
    model: str = ""  # e.g. "R1-Omni · cuda float16"; "" = no model
    model_memory_bytes: int | None = None


class ElidedLabel(QLabel):
    """A label that shows as much of its text as fits, cut at the end ("model R1-Omni-0.5B @ 10.0.0.5:84…"), with
    the whole text in its tooltip. ``full_text()`` is what was set."""

    def __init__(self, tip: str = "") -> None:
        super().__init__("")
        self._full = ""
        self._tip = tip

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(f"{text}\n{self._tip}" if self._tip else text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 — Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        margins = self.contentsMargins()
        room = max(24, self.width() - margins.left() - margins.right() - 16)  # the style sheet's padding
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room))


class StatusBar(QStatusBar):
    """Permanent fields, left to right: capture · audio · inference · result age · superseded · model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.fields: dict[str, QLabel] = {}
        muted = theme.current().muted
        # room for the widest usual texts (in the window's language), so fields neither jump nor get cut
        widest_texts = self.field_texts(StatusSnapshot(
            capture_fps=30.0, preview_fps=30.0, audio_rate_hz=48_000, audio_overflows=888, last_latency_s=88.8,
            last_compute_s=88.8, first_token_s=0.888, result_age_s=0.888, superseded=8888))
        for key, tip in (
            ("capture", self.tr("Frames/s from the video source, and frames/s the preview drew")),
            ("audio", self.tr("Microphone sample rate and input overflows (lost audio blocks)")),
            ("latency", self.tr("End of a window to its result; in brackets the model's time for it (with a model "
                                "server: the server's time and the network's), and how long its first reasoning "
                                "text took")),
            ("age", self.tr("How old the newest result is: now minus the end of its window")),
            ("superseded", self.tr("Windows replaced by a newer one before the model could take them")),
            ("model", self.tr("Model, device, precision and memory")),
        ):
            widest = widest_texts[key] if key != "model" else ""
            label = ElidedLabel(tip) if key == "model" else QLabel("")  # a server's address can be long
            label.setTextFormat(Qt.TextFormat.PlainText)  # the model field names a folder or a server
            label.setToolTip(tip)
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance(widest) + 20)
            label.setStyleSheet(
                f"padding: 0 8px; border-left: 1px solid {muted};" if self.fields else "padding: 0 8px;"
            )
            self.addPermanentWidget(label, 1 if key == "model" else 0)
            self.fields[key] = label
        self.show_snapshot(StatusSnapshot())

    def field_texts(self, s: StatusSnapshot) -> dict[str, str]:
        """The text of each field for ``s``, in the window's language."""
        if s.capture_fps is None:
            cap = self.tr("no video")
        else:
            cap = self.tr("video {fps} fps").format(fps=f"{s.capture_fps:.1f}")
        if s.preview_fps is not None:
            cap += self.tr(" (preview {fps})").format(fps=f"{s.preview_fps:.0f}")
        if s.audio_rate_hz is None:
            audio = self.tr("no microphone")
        else:
            audio = self.tr("audio {khz} kHz · {n} overflows").format(khz=f"{s.audio_rate_hz / 1000:g}",
                                                                       n=s.audio_overflows)
        lat = self.tr("latency {s}").format(s=formatting.seconds(s.last_latency_s))
        inner = []
        if s.last_compute_s is not None and s.network_s is not None:  # a model server: split model / network
            inner = [self.tr("model {s}").format(s=formatting.seconds(max(0.0, s.last_compute_s - s.network_s))),
                     self.tr("network {s}").format(s=formatting.seconds(s.network_s))]
        elif s.last_compute_s is not None:
            inner.append(self.tr("model {s}").format(s=formatting.seconds(s.last_compute_s)))
        if s.first_token_s is not None:
            inner.append(self.tr("first token {s}").format(s=formatting.seconds(s.first_token_s)))
        if inner:
            lat += f" ({', '.join(inner)})"
        mem = "" if s.model_memory_bytes is None else f" · {formatting.nbytes(s.model_memory_bytes)}"
        model = self.tr("model {name}").format(name=s.model) if s.model else self.tr("no model")
        return {"capture": cap, "audio": audio, "latency": lat,
                "age": self.tr("result age {s}").format(s=formatting.seconds(s.result_age_s)),
                "superseded": self.tr("superseded {n}").format(n=s.superseded), "model": f"{model}{mem}"}

    def show_snapshot(self, s: StatusSnapshot) -> None:
        for key, text in self.field_texts(s).items():
            label = self.fields[key]
            label.set_full_text(text) if isinstance(label, ElidedLabel) else label.setText(text)

    def text(self) -> str:
        """Every field's whole text (the model field may show less of it)."""
        return " | ".join(label.full_text() if isinstance(label, ElidedLabel) else label.text()
                          for label in self.fields.values())
