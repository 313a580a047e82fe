"""The main window's menu bar: File, View, Analysis (with the recording's privacy choices) and Help.

Menus only hold actions; every action calls a method of the main window, which does the work.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from core.sources import DEMO_CLIP
from desktop import theme
from desktop.controls import SOURCE_DEMO, SOURCE_PICK_FILE, SourceChoice

SHORTCUTS = (
    "Space  start / stop monitoring",
    "Ctrl+R  record on / off",
    "M  event marker",
    "X  exclude marker",
    "F  follow now on the timeline",
    "F5  look for devices again",
    "Ctrl+O  choose model folder",
    "Ctrl+L  load model",
    "Esc  dismiss message",
    "Ctrl+Q  quit",
)
AUTO_ATTRIBUTION_CHOICES = (
    ("off", "Never (only when asked, in the evidence view)"),
    ("gpu", "When the model runs on a GPU"),
    ("on", "Always (on a CPU each re-run costs as much as the window)"),
)
RECORD_CHOICES = (
    ("record_media", "Video, audio and the frames each window used (off: analysis log only)"),
    ("record_audio", "Audio in the recorded media"),
    ("blur_faces", "Blur faces in recorded video and frames"),
)


def build_menus(window: Any) -> tuple[QAction, QAction, dict[str, QAction], dict[str, QAction]]:
    """Fill ``window``'s menu bar. Returns (follow-now action, open-recorded-session action, the recording
    choices' actions by settings key, the automatic attribution choices' actions by mode)."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction("Open media file or URL…").triggered.connect(
        lambda: window._on_source_chosen(SourceChoice(SOURCE_PICK_FILE)))
    every = file_menu.addAction("Analyse every window of a file…")
    every.setToolTip("Not in real time: every window of the file is analysed, as fast as the model allows")
    every.triggered.connect(window._analyse_file)
    file_menu.addAction("Use the demo clip").triggered.connect(
        lambda: window._on_source_chosen(SourceChoice(SOURCE_DEMO, str(DEMO_CLIP))))
    replay_action = file_menu.addAction("Open recorded session…")
    replay_action.triggered.connect(window._open_replay)
    file_menu.addSeparator()
    quit_action = file_menu.addAction("Quit")
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    quit_action.triggered.connect(window.close)

    view_menu = bar.addMenu("&View")
    follow = QAction("Follow now on the timeline", window, checkable=True, checked=True)
    follow.setShortcut(QKeySequence(Qt.Key.Key_F))
    follow.toggled.connect(window.timeline.set_follow)
    window.timeline.follow_changed.connect(follow.setChecked)
    view_menu.addAction(follow)
    dismiss = QAction("Dismiss message", window)
    dismiss.setShortcut(QKeySequence(Qt.Key.Key_Escape))
    dismiss.triggered.connect(window.banner.dismiss)
    window.addAction(dismiss)
    view_menu.addAction(dismiss)
    view_menu.addSeparator()
    for name in (theme.DARK, theme.LIGHT):
        view_menu.addAction(f"{name.capitalize()} theme").triggered.connect(
            lambda _=False, n=name: window._set_theme(n))

    analysis_menu = bar.addMenu("&Analysis")
    mb, ab = window.monitor_bar, window.analysis_bar
    for action in (mb.monitor_action, mb.record_action, mb.event_action, mb.exclude_action):
        analysis_menu.addAction(action)
    record_choices = _recording_menu(window, analysis_menu.addMenu("Recording keeps"))
    attribution = _attribution_menu(window, analysis_menu.addMenu("What did the voice add? Re-run every window "
                                                                  "video-only"))
    analysis_menu.addSeparator()
    for action in (ab.choose_action, ab.remote_action, ab.load_action, ab.unload_action, ab.download_action):
        analysis_menu.addAction(action)

    help_menu = bar.addMenu("&Help")
    help_menu.addAction("Keyboard shortcuts").triggered.connect(window._show_shortcuts)
    help_menu.addAction("Usage policy").triggered.connect(window.policy.show)
    return follow, replay_action, record_choices, attribution


def _attribution_menu(window: Any, menu: QMenu) -> dict[str, QAction]:
    """When every window is re-run video-only (only while no live window waits for the model)."""
    group = QActionGroup(menu)
    actions: dict[str, QAction] = {}
    for mode, text in AUTO_ATTRIBUTION_CHOICES:
        action = menu.addAction(text)
        action.setCheckable(True)
        action.setChecked(window.settings.auto_attribution == mode)
        action.triggered.connect(lambda _=False, m=mode: window._set_auto_attribution(m))
        group.addAction(action)
        actions[mode] = action
    menu.addSeparator()
    menu.addAction("Live windows always go first").setEnabled(False)
    return actions


def _recording_menu(window: Any, menu: QMenu) -> dict[str, QAction]:
    """Privacy choices for the next recording: media or analysis only, audio, face blurring."""
    actions: dict[str, QAction] = {}
    for key, text in RECORD_CHOICES:
        action = menu.addAction(text)
        action.setCheckable(True)
        action.setChecked(bool(getattr(window.settings, key)))
        action.toggled.connect(lambda on, k=key: window._set_record_choice(k, on))
        actions[key] = action
    menu.addSeparator()
    menu.addAction("Applies to the next recording").setEnabled(False)
    return actions
