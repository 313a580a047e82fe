"""Live video preview: the newest camera frame, the current emotion with its age, a recording dot.

Frames are pulled by the main window's display timer (``set_frame``), never pushed per capture.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core import labels as core_labels
from desktop import formatting, i18n, theme

OVERLAY_MARGIN_PX = 10


class VideoView(QWidget):
    """A pyqtgraph ``ImageItem`` (row-major, fixed 0–255 levels) with overlays in widget pixels.

    Thread: UI thread only.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        t = theme.current()
        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground("#000000")
        self._graphics.ci.layout.setContentsMargins(0, 0, 0, 0)
        self._view = self._graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self._view.setMenuEnabled(False)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._view.addItem(self._image)
        self._shape: tuple[int, ...] | None = None
        self.frames_shown = 0

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._graphics)

        self._overlay = QLabel(self._graphics)
        self._overlay.setTextFormat(Qt.TextFormat.PlainText)  # shows the model's answer
        self._overlay.setObjectName("emotionOverlay")
        self._overlay.hide()
        self._rec = QLabel(self.tr("● REC"), self._graphics)
        self._rec.setStyleSheet(
            f"color: {t.record}; font-weight: bold; background: rgba(0,0,0,140); padding: 3px 8px;"
            " border-radius: 4px;"
        )
        self._rec.hide()
        self._empty = QLabel(self._graphics)
        self._empty.setTextFormat(Qt.TextFormat.PlainText)  # may name a file or stream
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setStyleSheet("color: #b0b0b0; font-size: 12pt; background: transparent;")
        self._empty.hide()
        self.setMinimumSize(320, 200)

    # -- data -------------------------------------------------------------------------------------------
    def set_frame(self, frame: np.ndarray | None) -> None:
        """Show ``frame`` (uint8 [H, W, 3] RGB). ``None`` keeps the last one."""
        if frame is None:
            return
        # uint8 RGB with no levels set is drawn as is (no per-frame rescale: ~3x cheaper than levels=(0, 255))
        self._image.setImage(frame, autoLevels=False)
        if frame.shape != self._shape:
            self._shape = frame.shape
            self._view.setRange(xRange=(0, frame.shape[1]), yRange=(0, frame.shape[0]), padding=0)
        self._empty.hide()
        self.frames_shown += 1

    def clear(self, message: str) -> None:
        """Drop the picture and say why (``message``), e.g. no camera and what to do instead."""
        self._image.clear()
        self._shape = None
        self._empty.setText(message)
        self._empty.show()
        self._place()

    def set_emotion(self, label: str | None, age_s: float | None, note: str | None = None) -> None:
        """Overlay "ANGRY · 1.8 s ago" in the label's colour, with ``note`` (e.g. "2 faces in view") on a
        second line; ``label=None`` hides it."""
        if label is None or age_s is None:
            self._overlay.hide()
            return
        colour = QColor(core_labels.colour(label))
        text_colour = "#000000" if colour.lightnessF() > 0.6 else "#ffffff"
        self._overlay.setStyleSheet(
            f"background: {colour.name()}; color: {text_colour}; font-size: 15pt; font-weight: bold;"
            " padding: 4px 10px; border-radius: 5px;"
        )
        text = self.tr("{label}  ·  {age} ago").format(label=i18n.label_name(label).upper(),
                                                       age=formatting.seconds(age_s))
        self._overlay.setText(text + (f"\n⚠ {note}" if note else ""))
        self._overlay.adjustSize()
        self._overlay.show()
        self._place()

    def set_recording(self, on: bool) -> None:
        self._rec.setVisible(on)
        self._place()

    @property
    def overlay_text(self) -> str:
        return "" if self._overlay.isHidden() else self._overlay.text()

    # -- layout -----------------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        w, h = self._graphics.width(), self._graphics.height()
        self._overlay.move(OVERLAY_MARGIN_PX, OVERLAY_MARGIN_PX)
        self._rec.adjustSize()
        self._rec.move(w - self._rec.width() - OVERLAY_MARGIN_PX, OVERLAY_MARGIN_PX)
        self._empty.setGeometry(20, 0, max(w - 40, 10), h)
