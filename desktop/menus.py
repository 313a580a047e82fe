"""The main window's menu bar: File, View, Analysis (with the recording's privacy choices) and Help.

Menus only hold actions; every action calls a method of the main window, which does the work.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from core.sources import DEMO_CLIP
from desktop import i18n, theme
from desktop.controls import SOURCE_DEMO, SOURCE_PICK_FILE, SourceChoice

CONTEXT = "Menus"  # translation context of the texts below (translated where shown)
SHORTCUTS = (
    ("Space", QT_TRANSLATE_NOOP("Menus", "start / stop monitoring")),
    ("Ctrl+R", QT_TRANSLATE_NOOP("Menus", "record on / off")),
    ("M", QT_TRANSLATE_NOOP("Menus", "event marker")),
    ("X", QT_TRANSLATE_NOOP("Menus", "exclude marker")),
    ("F", QT_TRANSLATE_NOOP("Menus", "follow now on the timeline")),
    ("F5", QT_TRANSLATE_NOOP("Menus", "look for devices again")),
    ("Ctrl+O", QT_TRANSLATE_NOOP("Menus", "choose model folder")),
    ("Ctrl+L", QT_TRANSLATE_NOOP("Menus", "load model")),
    ("Esc", QT_TRANSLATE_NOOP("Menus", "dismiss message")),
    ("Ctrl+Q", QT_TRANSLATE_NOOP("Menus", "quit")),
)
AUTO_ATTRIBUTION_CHOICES = (
    ("off", QT_TRANSLATE_NOOP("Menus", "Never (only when asked, in the evidence view)")),
    ("gpu", QT_TRANSLATE_NOOP("Menus", "When the model runs on a GPU")),
    ("on", QT_TRANSLATE_NOOP("Menus", "Always (on a CPU each re-run costs as much as the window)")),
)
RECORD_CHOICES = (
    ("record_media",
     QT_TRANSLATE_NOOP("Menus", "Video, audio and the frames each window used (off: analysis log only)")),
    ("record_audio", QT_TRANSLATE_NOOP("Menus", "Audio in the recorded media")),
    ("blur_faces", QT_TRANSLATE_NOOP("Menus", "Blur faces in recorded video and frames")),
)
# View -> Language: each language named in itself, as language menus do
LANGUAGE_CHOICES = ((i18n.SYSTEM, QT_TRANSLATE_NOOP("Menus", "System")), (i18n.ENGLISH, "English"),
                    (i18n.CHINESE, "简体中文"))
THEME_NAMES = {theme.DARK: QT_TRANSLATE_NOOP("Menus", "Dark theme"),
               theme.LIGHT: QT_TRANSLATE_NOOP("Menus", "Light theme")}


def _t(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


def shortcuts_text() -> str:
    """The keyboard shortcuts as one line, in the window's language."""
    return " · ".join(f"{key}  {_t(what)}" for key, what in SHORTCUTS)


def build_menus(window: Any) -> tuple[QAction, QAction, dict[str, QAction], dict[str, QAction]]:
    """Fill ``window``'s menu bar. Returns (follow-now action, open-recorded-session action, the recording
    choices' actions by settings key, the automatic attribution choices' actions by mode)."""
    bar = window.menuBar()
    file_menu = bar.addMenu(QCoreApplication.translate("Menus", "&File"))
    file_menu.addAction(QCoreApplication.translate("Menus", "Open media file or URL…")).triggered.connect(
        lambda: window._on_source_chosen(SourceChoice(SOURCE_PICK_FILE)))
    every = file_menu.addAction(QCoreApplication.translate("Menus", "Analyse every window of a file…"))
    every.setToolTip(QCoreApplication.translate(
        "Menus", "Not in real time: every window of the file is analysed, as fast as the model allows"))
    every.triggered.connect(window._analyze_file)
    file_menu.addAction(QCoreApplication.translate("Menus", "Use the demo clip")).triggered.connect(
        lambda: window._on_source_chosen(SourceChoice(SOURCE_DEMO, str(DEMO_CLIP))))
    replay_action = file_menu.addAction(QCoreApplication.translate("Menus", "Open recorded session…"))
    replay_action.triggered.connect(window._open_replay)
    file_menu.addSeparator()
    quit_action = file_menu.addAction(QCoreApplication.translate("Menus", "Quit"))
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    quit_action.triggered.connect(window.close)

    view_menu = bar.addMenu(QCoreApplication.translate("Menus", "&View"))
    follow = QAction(QCoreApplication.translate("Menus", "Follow now on the timeline"), window, checkable=True,
                     checked=True)
    follow.setShortcut(QKeySequence(Qt.Key.Key_F))
    follow.toggled.connect(window.timeline.set_follow)
    window.timeline.follow_changed.connect(follow.setChecked)
    view_menu.addAction(follow)
    dismiss = QAction(QCoreApplication.translate("Menus", "Dismiss message"), window)
    dismiss.setShortcut(QKeySequence(Qt.Key.Key_Escape))
    dismiss.triggered.connect(window.banner.dismiss)
    window.addAction(dismiss)
    view_menu.addAction(dismiss)
    view_menu.addSeparator()
    for name in (theme.DARK, theme.LIGHT):
        view_menu.addAction(_t(THEME_NAMES[name])).triggered.connect(lambda _=False, n=name: window._set_theme(n))
    view_menu.addSeparator()
    _language_menu(window, view_menu.addMenu(QCoreApplication.translate("Menus", "Language")))

    analysis_menu = bar.addMenu(QCoreApplication.translate("Menus", "&Analysis"))
    mb, ab = window.monitor_bar, window.analysis_bar
    for action in (mb.monitor_action, mb.record_action, mb.event_action, mb.exclude_action):
        analysis_menu.addAction(action)
    keeps = analysis_menu.addMenu(QCoreApplication.translate("Menus", "Recording keeps"))
    record_choices = _recording_menu(window, keeps)
    voice = analysis_menu.addMenu(QCoreApplication.translate(
        "Menus", "What did the voice add? Re-run every window video-only"))
    attribution = _attribution_menu(window, voice)
    analysis_menu.addSeparator()
    for action in (ab.choose_action, ab.remote_action, ab.load_action, ab.unload_action, ab.download_action):
        analysis_menu.addAction(action)

    help_menu = bar.addMenu(QCoreApplication.translate("Menus", "&Help"))
    shortcuts = help_menu.addAction(QCoreApplication.translate("Menus", "Keyboard shortcuts"))
    shortcuts.triggered.connect(window._show_shortcuts)
    help_menu.addAction(QCoreApplication.translate("Menus", "Usage policy")).triggered.connect(window.policy.show)
    return follow, replay_action, record_choices, attribution


def _attribution_menu(window: Any, menu: QMenu) -> dict[str, QAction]:
    """When every window is re-run video-only (only while no live window waits for the model)."""
    group = QActionGroup(menu)
    actions: dict[str, QAction] = {}
    for mode, text in AUTO_ATTRIBUTION_CHOICES:
        action = menu.addAction(_t(text))
        action.setCheckable(True)
        action.setChecked(window.settings.auto_attribution == mode)
        action.triggered.connect(lambda _=False, m=mode: window._set_auto_attribution(m))
        group.addAction(action)
        actions[mode] = action
    menu.addSeparator()
    menu.addAction(QCoreApplication.translate("Menus", "Live windows always go first")).setEnabled(False)
    return actions


def _recording_menu(window: Any, menu: QMenu) -> dict[str, QAction]:
    """Privacy choices for the next recording: media or analysis only, audio, face blurring."""
    actions: dict[str, QAction] = {}
    for key, text in RECORD_CHOICES:
        action = menu.addAction(_t(text))
        action.setCheckable(True)
        action.setChecked(bool(getattr(window.settings, key)))
        action.toggled.connect(lambda on, k=key: window._set_record_choice(k, on))
        actions[key] = action
    menu.addSeparator()
    menu.addAction(QCoreApplication.translate("Menus", "Applies to the next recording")).setEnabled(False)
    return actions


def _language_menu(window: Any, menu: QMenu) -> None:
    """System / English / 简体中文, checked as remembered; the choice applies at the next start."""
    group = QActionGroup(menu)
    group.setExclusive(True)
    for key, text in LANGUAGE_CHOICES:
        action = menu.addAction(_t(text))
        action.setCheckable(True)
        action.setChecked(window.settings.language == key)
        action.setData(key)
        group.addAction(action)
    group.triggered.connect(lambda a: window._set_language(a.data()))
    window.language_actions = group
