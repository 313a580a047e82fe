"""The status bar: how the live pipeline is doing, refreshed about once a second."""

from __future__ import annotations

from dataclasses import dataclass

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
    model: str = "no model"  # e.g. "R1-Omni · cuda float16"
    model_memory_bytes: int | None = None


class StatusBar(QStatusBar):
    """Permanent fields, left to right: capture · audio · inference · result age · superseded · model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.fields: dict[str, QLabel] = {}
        muted = theme.current().muted
        for key, widest, tip in (
            (
                "capture",
                "video 30.0 fps (preview 30)",
                "Frames/s from the video source, and frames/s the preview drew",
            ),
            (
                "audio",
                "audio 48 kHz · 000 overflows",
                "Microphone sample rate and input overflows (lost audio blocks)",
            ),
            (
                "latency",
                "latency 00.0 s (model 00.0 s, first token 000 ms)",
                "End of a window to its result; in brackets the model's time for it (with a model server: "
                "the server's time and the network's), and how long its first reasoning text took",
            ),
            ("age", "result age 000 ms", "How old the newest result is: now minus the end of its window"),
            (
                "superseded",
                "superseded 0000",
                "Windows replaced by a newer one before the model could take them",
            ),
            ("model", "", "Model, device, precision and memory"),
        ):
            label = QLabel("")
            label.setToolTip(tip)
            # room for the widest usual text, so fields neither jump nor get cut as numbers change
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance(widest) + 20)
            label.setStyleSheet(
                f"padding: 0 8px; border-left: 1px solid {muted};" if self.fields else "padding: 0 8px;"
            )
            self.addPermanentWidget(label, 1 if key == "model" else 0)
            self.fields[key] = label
        self.show_snapshot(StatusSnapshot())

    def show_snapshot(self, s: StatusSnapshot) -> None:
        f = self.fields
        cap = "no video" if s.capture_fps is None else f"video {s.capture_fps:.1f} fps"
        if s.preview_fps is not None:
            cap += f" (preview {s.preview_fps:.0f})"
        f["capture"].setText(cap)
        f["audio"].setText(
            "no microphone"
            if s.audio_rate_hz is None
            else f"audio {s.audio_rate_hz / 1000:g} kHz · {s.audio_overflows} overflows"
        )
        lat = f"latency {formatting.seconds(s.last_latency_s)}"
        inner = []
        if s.last_compute_s is not None and s.network_s is not None:  # a model server: split model / network
            inner = [f"model {formatting.seconds(max(0.0, s.last_compute_s - s.network_s))}",
                     f"network {formatting.seconds(s.network_s)}"]
        elif s.last_compute_s is not None:
            inner = [f"model {formatting.seconds(s.last_compute_s)}"]
        if s.first_token_s is not None:
            inner.append(f"first token {formatting.seconds(s.first_token_s)}")
        if inner:
            lat += f" ({', '.join(inner)})"
        f["latency"].setText(lat)
        f["age"].setText(f"result age {formatting.seconds(s.result_age_s)}")
        f["superseded"].setText(f"superseded {s.superseded}")
        mem = "" if s.model_memory_bytes is None else f" · {formatting.nbytes(s.model_memory_bytes)}"
        f["model"].setText(f"{s.model}{mem}")

    def text(self) -> str:
        return " | ".join(label.text() for label in self.fields.values())
