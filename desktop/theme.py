"""Dark (default) and light themes: one palette for Qt widgets, pyqtgraph plots and overlays.

Label colours are not here: they come from ``core.labels.colour`` so that the timeline, overlay,
history and exports agree. ``switch`` changes the theme of a running app (open windows are re-coloured).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

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


def switch(app: QApplication, name: str) -> Theme:
    """Change the theme of a running app: the palette and pyqtgraph defaults (``apply``), then every open
    window is re-coloured in place (see :func:`recolour`). Returns the new theme."""
    old = current(app)
    new = apply(app, name)
    if new != old:
        for window in app.topLevelWidgets():
            recolour(window, old, new)
    return new


def recolour(root: QWidget, old: Theme, new: Theme) -> None:
    """Re-colour ``root`` and its descendants from ``old`` to ``new``.

    Widgets take their colours from the theme when they are built: as style sheets and rich text (the
    palette-driven parts follow the app palette by themselves), as plot backgrounds and axes, and as pens of
    plot items. Each theme colour in a style sheet or a rich-text label is swapped for the same role's colour
    in the new theme; plot backgrounds and axes follow; a widget with its own ``apply_theme(theme)`` (items it
    drew with theme pens) is asked to re-colour those."""
    mapping = _colour_map(old, new)
    for widget in [root, *root.findChildren(QWidget)]:
        sheet = widget.styleSheet()
        if sheet:  # set again even when unchanged: a styled widget keeps the palette it was polished with
            widget.setStyleSheet("")
            widget.setStyleSheet(_swap_colours(sheet, mapping))
        if isinstance(widget, QLabel) and widget.textFormat() != Qt.TextFormat.PlainText:
            text = widget.text()
            recoloured = _swap_colours(text, mapping)
            if recoloured != text:
                widget.setText(recoloured)
        if isinstance(widget, pg.GraphicsView):
            if widget.backgroundBrush().color().name() == QColor(old.panel).name():
                widget.setBackground(new.panel)
            for item in widget.items():
                if isinstance(item, pg.AxisItem):
                    item.setPen(new.muted)
                    item.setTextPen(new.muted)
        apply_theme = getattr(widget, "apply_theme", None)
        if callable(apply_theme):
            apply_theme(new)


def _colour_map(old: Theme, new: Theme) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in dataclasses.fields(Theme):
        if f.name == "name":
            continue
        before, after = getattr(old, f.name).lower(), getattr(new, f.name).lower()
        out.setdefault(before, after)  # the first role of a colour decides (two roles may share one)
    return out


def _swap_colours(text: str, mapping: dict[str, str]) -> str:
    """Each ``#rrggbb`` of ``mapping`` in ``text`` replaced at once (no chained replacements)."""
    return _HEX.sub(lambda m: mapping.get(m.group(0).lower(), m.group(0)), text)


_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")
