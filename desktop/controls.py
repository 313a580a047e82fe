"""The two toolbars: monitoring (start/stop, record, markers, source and microphone pickers) and analysis
(model, device, precision, window/hop, label set, instruction preset).

The toolbars only show choices and emit what the user asked for; the main window acts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QMenu,
    QToolBar,
    QToolButton,
    QWidget,
)

from core import scheduler as core_scheduler

SOURCE_CAMERA = "camera"
SOURCE_DEMO = "demo"
SOURCE_SYNTHETIC = "synthetic"  # moving test pattern + chirp, no file or device needed
SOURCE_FILE = "file"  # a media file or a stream URL
SOURCE_PICK_FILE = "pick-file"  # the "Open media file…" entry
NO_MIC = "none"  # microphone picker: video-only analysis
DEFAULT_MIC = "default"  # microphone picker: the system's default input

# (key, text): texts are translated where they are shown (context "Controls")
LABEL_SET_CHOICES = (
    ("DFEW", QT_TRANSLATE_NOOP("Controls", "DFEW · 7 labels")),
    ("MAFW", QT_TRANSLATE_NOOP("Controls", "MAFW · 11 labels")),
    ("free", QT_TRANSLATE_NOOP("Controls", "free labels")),
)
PRESET_CHOICES = (
    ("official", QT_TRANSLATE_NOOP("Controls", "R1-Omni prompt")),
    ("evaluation", QT_TRANSLATE_NOOP("Controls", "evaluation prompt")),
    ("custom", QT_TRANSLATE_NOOP("Controls", "custom…")),
)
DEVICE_CHOICES = (("auto", QT_TRANSLATE_NOOP("Controls", "auto (CUDA if present)")), ("cuda", "CUDA"), ("cpu", "CPU"))
PROFILE_CHOICES = (
    ("exact", QT_TRANSLATE_NOOP("Controls", "exact (the official computation)")),
    ("fast", QT_TRANSLATE_NOOP("Controls", "fast (approximate, for a CPU)")),
)
DTYPE_CHOICES = (
    ("auto", QT_TRANSLATE_NOOP("Controls", "auto (fp16 on CUDA, bf16/fp32 on CPU)")),
    ("float32", "float32"),
    ("float16", "float16"),
    ("bfloat16", "bfloat16"),
)


def choice_text(text: str) -> str:
    """A choice's text in the window's language (technical names such as CUDA stay as they are)."""
    return QCoreApplication.translate("Controls", text)


NO_MENU_ARROW = "QToolButton::menu-indicator { image: none; width: 0px; }"


@dataclass(frozen=True)
class SourceChoice:
    kind: str  # SOURCE_CAMERA | SOURCE_DEMO | SOURCE_SYNTHETIC | SOURCE_FILE | SOURCE_PICK_FILE
    ref: Any = None  # camera index / file path or URL
    label: str = ""


def source_label(choice: SourceChoice) -> str:
    """A source's label in the window's language (fixed labels such as the synthetic pattern are translated;
    device and file names come back as they are)."""
    camera = re.fullmatch(r"camera (\d+)", choice.label)  # core.sources.describe names cameras this way
    if camera:
        return QCoreApplication.translate("LiveController", "camera {index}").format(index=camera.group(1))
    return QCoreApplication.translate("LiveController", choice.label)


def _spin(value: float, lo: float, hi: float, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(1)
    box.setSingleStep(0.5)
    box.setSuffix(QCoreApplication.translate("Controls", " s"))
    box.setValue(value)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


class MonitorToolBar(QToolBar):
    """● Monitor, ■ Record, markers, Source ▾ ⟳, Mic ▾."""

    source_chosen = Signal(object)  # SourceChoice
    microphone_chosen = Signal(object)  # device index, DEFAULT_MIC or NO_MIC
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(QCoreApplication.translate("Controls", "Monitoring"), parent)
        self.setObjectName("monitorToolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.monitor_action = QAction(self.tr("● Monitor"), self, checkable=True)
        self.monitor_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.monitor_action.setToolTip(self.tr("Start / stop monitoring (Space)"))
        self.record_action = QAction(self.tr("■ Record"), self, checkable=True)
        self.record_action.setShortcut(QKeySequence("Ctrl+R"))
        self.record_action.setToolTip(self.tr("Record the session to disk: video, audio, results, markers (Ctrl+R)"))
        self.event_action = QAction(self.tr("⚑ Event"), self)
        self.event_action.setShortcut(QKeySequence(Qt.Key.Key_M))
        self.event_action.setToolTip(self.tr("Add an event marker at the current time (M)"))
        self.exclude_action = QAction(self.tr("⊘ Exclude"), self)
        self.exclude_action.setShortcut(QKeySequence(Qt.Key.Key_X))
        self.exclude_action.setToolTip(self.tr("Mark the current time as to be excluded from analysis (X)"))
        for action in (self.monitor_action, self.record_action):
            self.addAction(action)
        self.addSeparator()
        self.addAction(self.event_action)
        self.addAction(self.exclude_action)
        self.addSeparator()

        self.addWidget(QLabel(self.tr(" Source ")))
        self.source_combo = QComboBox()
        self.source_combo.setMinimumContentsLength(18)
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.source_combo.setToolTip(self.tr("Camera, the bundled demo clip, or a media file / stream URL"))
        self.source_combo.activated.connect(self._on_source)
        self.addWidget(self.source_combo)
        self.refresh_action = QAction("⟳", self)
        self.refresh_action.setToolTip(self.tr("Look for cameras and microphones again (F5)"))
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.triggered.connect(self.refresh_requested)
        self.addAction(self.refresh_action)
        self.addWidget(QLabel(self.tr("  Mic ")))
        self.mic_combo = QComboBox()
        self.mic_combo.setMinimumContentsLength(16)
        self.mic_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mic_combo.setToolTip(
            self.tr("Microphone used with a camera or a stream (media files bring their own audio)"))
        self.mic_combo.activated.connect(lambda i: self.microphone_chosen.emit(self.mic_combo.itemData(i)))
        self.addWidget(self.mic_combo)

    def set_sources(self, choices: list[SourceChoice], current: SourceChoice | None) -> None:
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        for choice in choices:
            self.source_combo.addItem(source_label(choice), choice)
        self.source_combo.addItem(self.tr("Open media file or URL…"), SourceChoice(SOURCE_PICK_FILE, None, ""))
        self.show_source(current)
        self.source_combo.blockSignals(False)

    def show_source(self, current: SourceChoice | None) -> None:
        for i in range(self.source_combo.count()):
            c = self.source_combo.itemData(i)
            if current is not None and c.kind == current.kind and c.ref == current.ref:
                self.source_combo.setCurrentIndex(i)
                return

    def set_microphones(self, mics: list[tuple[Any, str, bool]], current: Any) -> None:
        """``mics``: (key, name, is_default) with key a PortAudio index or ``pulse:<source>``; ``current``: a
        key, ``DEFAULT_MIC`` or ``NO_MIC``.

        "No microphone" (video-only analysis) is always offered; "Default input" when any input exists, naming
        the microphone it is."""
        self.mic_combo.blockSignals(True)
        self.mic_combo.clear()
        self.mic_combo.addItem(self.tr("No microphone (video only)"), NO_MIC)
        defaults = [name for _key, name, is_default in mics if is_default]
        if mics:
            text = self.tr("Default input: {name}").format(name=defaults[-1]) if defaults else self.tr("Default input")
            self.mic_combo.addItem(text, DEFAULT_MIC)
        for dev, name, is_default in mics:
            self.mic_combo.addItem(self.tr("{name} (default)").format(name=name) if is_default else name, dev)
        idx = self.mic_combo.findData(current)
        self.mic_combo.setCurrentIndex(idx if idx >= 0 else (1 if mics else 0))
        self.mic_combo.blockSignals(False)

    def set_microphone_enabled(self, enabled: bool, reason: str = "") -> None:
        """Media files bring their own audio: the picker is disabled and says so."""
        self.mic_combo.setEnabled(enabled)
        if not enabled:
            self.mic_combo.blockSignals(True)
            self.mic_combo.clear()
            self.mic_combo.addItem(reason, None)
            self.mic_combo.blockSignals(False)

    def _on_source(self, index: int) -> None:
        self.source_chosen.emit(self.source_combo.itemData(index))


class AnalysisToolBar(QToolBar):
    """Model ▾ (folder, load/unload, download, device, precision) · window · hop · labels · prompt."""

    choose_model_requested = Signal()
    remote_requested = Signal()
    load_requested = Signal()
    unload_requested = Signal()
    download_requested = Signal()
    device_chosen = Signal(str)
    dtype_chosen = Signal(str)
    profile_chosen = Signal(str)
    window_hop_changed = Signal(float, float)
    label_set_chosen = Signal(str)
    preset_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(QCoreApplication.translate("Controls", "Analysis"), parent)
        self.setObjectName("analysisToolbar")
        self.setMovable(False)
        self.model_button = QToolButton()
        self.model_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.model_button.setStyleSheet(NO_MENU_ARROW)  # the text ends in ▾; Fusion's arrow would overlap it
        self.set_model_text(self.tr("none"))
        self.model_button.setToolTip(self.tr("Model folder, load/unload, download, device and precision"))
        menu = QMenu(self.model_button)
        self.choose_action = menu.addAction(self.tr("Choose model folder…"), QKeySequence("Ctrl+O"))
        self.choose_action.triggered.connect(self.choose_model_requested)
        self.remote_action = menu.addAction(self.tr("Remote server…"))
        self.remote_action.setToolTip(self.tr("Analyse on a model server (python main.py serve) instead of this "
                                              "computer"))
        self.remote_action.triggered.connect(self.remote_requested)
        self.load_action = menu.addAction(self.tr("Load model"), QKeySequence("Ctrl+L"))
        self.load_action.triggered.connect(self.load_requested)
        self.unload_action = menu.addAction(self.tr("Unload model"))
        self.unload_action.triggered.connect(self.unload_requested)
        self.download_action = menu.addAction(self.tr("Download weights…"))
        self.download_action.triggered.connect(self.download_requested)
        menu.addSeparator()
        self.device_group = self._choice_menu(menu.addMenu(self.tr("Device")), DEVICE_CHOICES, self.device_chosen)
        self.dtype_group = self._choice_menu(menu.addMenu(self.tr("Precision")), DTYPE_CHOICES, self.dtype_chosen)
        profile_menu = menu.addMenu(self.tr("Profile"))
        profile_menu.setToolTipsVisible(True)
        self.profile_group = self._choice_menu(profile_menu, PROFILE_CHOICES, self.profile_chosen)
        for action in self.profile_group.actions():
            if action.data() == "fast":
                action.setToolTip(self.tr("int8 decoding and Whisper over the window's own seconds: about 1.7x "
                                          "faster on a CPU; every result it gives is marked approximate"))
        self.model_button.setMenu(menu)
        self.addWidget(self.model_button)
        self.addSeparator()

        self.addWidget(QLabel(self.tr(" Window ")))
        self.window_spin = _spin(
            core_scheduler.DEFAULT_WINDOW_S,
            core_scheduler.MIN_WINDOW_S,
            core_scheduler.MAX_WINDOW_S,
            self.tr("Seconds of video + audio per analysis (max 30 s: the model hears at most 30 s)"),
        )
        self.addWidget(self.window_spin)
        self.addWidget(QLabel(self.tr(" hop ")))
        self.hop_spin = _spin(
            core_scheduler.DEFAULT_HOP_S,
            0.5,
            60.0,
            self.tr("A new window is cut every hop seconds; the newest waiting window wins"),
        )
        self.addWidget(self.hop_spin)
        for box in (self.window_spin, self.hop_spin):
            box.valueChanged.connect(
                lambda _v: self.window_hop_changed.emit(self.window_spin.value(), self.hop_spin.value())
            )
        self.addSeparator()
        self.addWidget(QLabel(self.tr(" Labels ")))
        self.labels_combo = QComboBox()
        for key, text in LABEL_SET_CHOICES:
            self.labels_combo.addItem(choice_text(text), key)
        self.labels_combo.setToolTip(self.tr("The label set the answer is normalised to (and scored over)"))
        self.labels_combo.activated.connect(
            lambda i: self.label_set_chosen.emit(self.labels_combo.itemData(i))
        )
        self.addWidget(self.labels_combo)
        self.addWidget(QLabel(self.tr(" Prompt ")))
        self.preset_combo = QComboBox()
        for key, text in PRESET_CHOICES:
            self.preset_combo.addItem(choice_text(text), key)
        self.preset_combo.setToolTip(self.tr("The instruction given to the model with every window"))
        self.preset_combo.activated.connect(lambda i: self.preset_chosen.emit(self.preset_combo.itemData(i)))
        self.addWidget(self.preset_combo)

    @staticmethod
    def _choice_menu(menu: QMenu, choices, signal) -> QActionGroup:
        group = QActionGroup(menu)
        group.setExclusive(True)
        for key, text in choices:
            action = menu.addAction(choice_text(text))
            action.setCheckable(True)
            action.setData(key)
            group.addAction(action)
        group.triggered.connect(lambda a: signal.emit(a.data()))
        return group

    @staticmethod
    def check(group: QActionGroup, key: str) -> None:
        for action in group.actions():
            action.setChecked(action.data() == key)

    def select(self, combo: QComboBox, key: str) -> None:
        idx = combo.findData(key)
        if idx >= 0:
            combo.setCurrentIndex(idx)

    def set_model_text(self, text: str) -> None:
        self.model_button.setText(self.tr("Model: {name} ▾").format(name=text))
