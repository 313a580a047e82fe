"""Dark (default) and light themes: one palette for Qt widgets, pyqtgraph plots and overlays.

Label colours are not here: they come from ``core.labels.colour`` so that the timeline, overlay,
history and exports agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

DARK = "dark"
LIGHT = "light"


@dataclass(frozen=True)
class Theme:
    name: str
    window: str  # main background
    panel: str  # plot / panel background
    base: str  # text fields
    text: str
    muted: str  # secondary text, axes
    grid: str
    accent: str  # selection, focus, "now"
    record: str  # the recording dot
    warning: str  # banner background for warnings
    caution: str  # warning text on a panel (e.g. "2 faces in view")
    error: str  # banner background for errors
    banner_text: str


THEMES: dict[str, Theme] = {
    DARK: Theme(
        name=DARK,
        window="#1e2127",
        panel="#16181d",
        base="#111317",
        text="#e6e6e6",
        muted="#9aa0a6",
        grid="#2c3038",
        accent="#4aa3ff",
        record="#ff3b30",
        warning="#6b5410",
        caution="#f2b84b",
        error="#7a1f1f",
        banner_text="#ffffff",
    ),
    LIGHT: Theme(
        name=LIGHT,
        window="#f3f3f3",
        panel="#ffffff",
        base="#ffffff",
        text="#1d1d1f",
        muted="#5f6368",
        grid="#dadce0",
        accent="#0b63c4",
        record="#d70015",
        warning="#fff1c2",
        caution="#9a6700",
        error="#fddcdc",
        banner_text="#1d1d1f",
    ),
}


def theme(name: str) -> Theme:
    """The theme called ``name``; an unknown name falls back to dark (the monitoring default)."""
    return THEMES.get(name, THEMES[DARK])


def apply(app: QApplication, name: str) -> Theme:
    """Style the whole app (Fusion + palette + pyqtgraph defaults). Call before plots are created."""
    t = theme(name)
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: t.window,
        QPalette.ColorRole.WindowText: t.text,
        QPalette.ColorRole.Base: t.base,
        QPalette.ColorRole.AlternateBase: t.panel,
        QPalette.ColorRole.Text: t.text,
        QPalette.ColorRole.Button: t.window,
        QPalette.ColorRole.ButtonText: t.text,
        QPalette.ColorRole.ToolTipBase: t.panel,
        QPalette.ColorRole.ToolTipText: t.text,
        QPalette.ColorRole.Highlight: t.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: t.muted,
        QPalette.ColorRole.Link: t.accent,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(t.muted))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 9.5))
    app.setFont(font)
    pg.setConfigOptions(background=t.panel, foreground=t.muted, antialias=True, imageAxisOrder="row-major")
    app.setProperty("r1omni_theme", t.name)
    return t


def current(app: QApplication | None = None) -> Theme:
    """The theme last applied to ``app`` (dark when none was)."""
    app = app or QApplication.instance()
    return theme(str(app.property("r1omni_theme") or DARK)) if app is not None else THEMES[DARK]
