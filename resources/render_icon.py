"""Render ``resources/icon.svg`` to ``icon.png`` (256 px) for window icons, the .desktop file and packaging.

python resources/render_icon.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZE_PX = 256


def render(svg: Path = HERE / "icon.svg", png: Path = HERE / "icon.png", size_px: int = SIZE_PX) -> None:
    image = QImage(size_px, size_px, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    if not image.save(str(png)):
        raise OSError(f"could not write {png}")


if __name__ == "__main__":
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1] + ["-platform", "offscreen"])
    render()
    print(f"wrote {HERE / 'icon.png'}")
