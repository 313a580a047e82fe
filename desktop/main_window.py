"""The main window: lays out the live views, routes user actions to the ``LiveController`` and worker
events to the views, and pulls rendering from two timers (~30 Hz views, ~1 Hz text and stats).

Nothing here waits on the model, a device or the disk: those live behind the controller's threads and
report back through queued signals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import labels as core_labels
from core.results import WindowResult
from core.settings import SettingsSaver
from core.window import Window
from desktop import banner as banner_levels
from desktop import theme
from desktop.audio_view import WAVEFORM_SPAN_S, AudioView
from desktop.banner import Banner
from desktop.controls import (
    SOURCE_CAMERA,
    SOURCE_DEMO,
    SOURCE_FILE,
    SOURCE_PICK_FILE,
    SOURCE_SYNTHETIC,
    AnalysisToolBar,
    MonitorToolBar,
    SourceChoice,
)
from desktop.evidence_store import EvidenceStore
from desktop.evidence_view import EvidenceView
from desktop.live_controller import DEMO_CLIP, SYNTHETIC_CHOICE, LiveController
from desktop.model_panel import ModelSetupPanel
from desktop.policy import PolicyNotice
from desktop.reasoning_panel import ReasoningPanel
from desktop.status_bar import StatusBar
from desktop.timeline import EmotionTimeline, Marker
from desktop.video_view import VideoView

log = logging.getLogger(__name__)

DEFAULT_SIZE_PX = (1360, 860)  # first start; later starts restore the user's geometry
VIEW_PERIOD_MS = 33  # preview, meter, waveform, timeline, token flush (~30 Hz)
STATS_PERIOD_MS = 1000  # status bar, overlay age (~1 Hz)
WAVEFORM_EVERY_N_TICKS = 2  # meter + waveform at 15 Hz: smooth to the eye, half the axis work
TIMELINE_EVERY_N_TICKS = 3  # timeline scroll at 10 Hz: it moves a pixel or two per update
LOOP_SAMPLES = 10_000  # view-timer lateness samples kept (about 5 minutes)
MEDIA_FILTER = "Media (*.mp4 *.mkv *.mov *.avi *.webm *.m4v *.mp3 *.wav *.flac);;All files (*)"

NO_CAMERA_TEXT = (
    "No camera found.\nPick the demo clip, or open a media file or stream URL, in the Source list.\n"
    "From a terminal: python main.py --source demo"
)
NO_MIC_TEXT = "No microphone — analysis is video-only (the model hears nothing)."


class LoopWatch:
    """How late the view timer fires, i.e. how long the event loop was busy elsewhere (UI thread).

    ``lateness_ms`` keeps the newest ``LOOP_SAMPLES`` values of (interval - period) in ms."""

    def __init__(self, period_ms: int) -> None:
        self.period_ms = period_ms
        self._timer = QElapsedTimer()
        self.lateness_ms: deque[float] = deque(maxlen=LOOP_SAMPLES)
        self.max_stall_ms = 0.0
        self.ticks = 0

    def tick(self) -> None:
        if self._timer.isValid():
            late = self._timer.nsecsElapsed() / 1e6 - self.period_ms
            self.lateness_ms.append(late)
            self.max_stall_ms = max(self.max_stall_ms, late)
        self._timer.restart()
        self.ticks += 1

    def reset(self) -> None:
        self.max_stall_ms = 0.0
        self.ticks = 0
        self.lateness_ms.clear()
        self._timer.invalidate()


class MainWindow(QMainWindow):
    """R1-Omni Live's window. ``closed`` fires after the ordered shutdown has finished."""

    closed = Signal()
    replay_opened = Signal(object)  # a ReplayWindow, once its session was read
    _replay_loaded = Signal(object)  # ReplayData from the replay-open thread

    def __init__(self, settings, controller: LiveController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.controller = controller
        self.setWindowTitle("R1-Omni Live")
        screen = QApplication.primaryScreen()
        room = screen.availableGeometry().size() if screen is not None else None
        self.resize(
            min(DEFAULT_SIZE_PX[0], room.width()) if room else DEFAULT_SIZE_PX[0],
            min(DEFAULT_SIZE_PX[1], room.height()) if room else DEFAULT_SIZE_PX[1],
        )
        self._settings_saver = SettingsSaver(settings)
        self._results: dict[int, WindowResult] = {}
        self._evidence = EvidenceStore()
        self._newest: WindowResult | None = None
        self._selected: int | None = None
        self._shut_down = False
        self._loading = False  # a model load is in progress
        self._have_cameras = False
        self._devices: tuple[list, list] | None = None  # (cameras, microphones) of the last scan
        self._preview_index = -1
        self._preview_count = 0
        self._preview_fps_at = time.monotonic()
        self.preview_fps: float | None = None
        self._last_view_t = time.monotonic()

        self._build_views()
        self._build_toolbars()
        self._build_menus()
        self._connect_controller()

        self.loop_watch = LoopWatch(VIEW_PERIOD_MS)
        self._view_timer = QTimer(self)
        self._view_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._view_timer.timeout.connect(self._on_view_tick)
        self._view_timer.start(VIEW_PERIOD_MS)
        self._stats_timer = QTimer(self)
        self._stats_timer.timeout.connect(self._on_stats_tick)
        self._stats_timer.start(STATS_PERIOD_MS)
        self._restore_choices()
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode("ascii")))

    # ---- construction ------------------------------------------------------------------------------------
    def _build_views(self) -> None:
        t = theme.current()
        self.banner = Banner()
        self.policy = PolicyNotice()
        self.policy.acknowledged.connect(self._on_policy_ack)
        self.policy.setVisible(not self.settings.policy_acknowledged)

        self.video = VideoView()
        self.audio = AudioView()
        self.audio_caption = QLabel("Microphone — level and the last 5 s")
        self.audio_caption.setStyleSheet(f"color: {t.muted};")
        audio_box = QWidget()
        al = QVBoxLayout(audio_box)
        al.setContentsMargins(0, 0, 0, 0)
        al.setSpacing(1)
        al.addWidget(self.audio_caption)
        al.addWidget(self.audio, 1)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.video)
        left.addWidget(audio_box)
        left.setStretchFactor(0, 4)
        left.setStretchFactor(1, 1)
        left.setSizes([420, 120])

        self.reasoning = ReasoningPanel()
        self.reasoning.window_selected.connect(self.select_window)
        self.model_panel = ModelSetupPanel(str(self.controller.default_model_dir()))
        self.model_panel.choose_folder_requested.connect(self._choose_model_folder)
        self.model_panel.download_requested.connect(self._download)
        self._model_page = QScrollArea()  # the folder layout is wide: scroll rather than squeeze the video
        self._model_page.setWidget(self.model_panel)
        self._model_page.setWidgetResizable(True)
        self._model_page.setFrameShape(QFrame.Shape.NoFrame)
        self._model_page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.reasoning_stack = QStackedWidget()
        self.reasoning_stack.addWidget(self._model_page)
        self.reasoning_stack.addWidget(self.reasoning)
        self.evidence = EvidenceView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.reasoning_stack, "Reasoning")
        self.tabs.addTab(self.evidence, "Evidence")

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(self.tabs)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([760, 560])

        self.timeline = EmotionTimeline()
        self.timeline.window_selected.connect(self.select_window)
        self.timeline.set_label_set(core_labels.label_set(self.settings.label_set))
        caption = QLabel(
            "Emotion timeline — one span per analysed window [t0, t1], drawn where the window was, "
            "not when its result arrived"
        )
        caption.setStyleSheet(f"color: {t.muted};")
        timeline_box = QWidget()
        tl = QVBoxLayout(timeline_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(1)
        tl.addWidget(caption)
        tl.addWidget(self.timeline, 1)

        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(timeline_box)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        main.setSizes([540, 260])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 2)
        layout.setSpacing(4)
        layout.addWidget(self.policy)
        layout.addWidget(self.banner)
        layout.addWidget(main, 1)
        self.setCentralWidget(central)
        self.status = StatusBar()
        self.setStatusBar(self.status)

    def _build_toolbars(self) -> None:
        self.monitor_bar = MonitorToolBar(self)
        self.analysis_bar = AnalysisToolBar(self)
        self.addToolBar(self.monitor_bar)
        self.addToolBarBreak()
        self.addToolBar(self.analysis_bar)
        mb, ab = self.monitor_bar, self.analysis_bar
        mb.monitor_action.toggled.connect(self._on_monitor_toggled)
        mb.record_action.toggled.connect(self._on_record_toggled)
        mb.event_action.triggered.connect(lambda: self.add_marker("event"))
        mb.exclude_action.triggered.connect(lambda: self.add_marker("exclude"))
        mb.source_chosen.connect(self._on_source_chosen)
        mb.microphone_chosen.connect(self._on_microphone_chosen)
        mb.refresh_requested.connect(self.refresh_devices)
        self._replay_loaded.connect(self._show_replay)
        self.controller.devices_found.connect(self._on_devices_found)
        ab.choose_model_requested.connect(self._choose_model_folder)
        ab.load_requested.connect(self.load_model)
        ab.unload_requested.connect(self.controller.unload_model)
        ab.download_requested.connect(self._download)
        ab.device_chosen.connect(self._on_device_chosen)
        ab.dtype_chosen.connect(self._on_dtype_chosen)
        ab.window_hop_changed.connect(self._on_window_hop)
        ab.label_set_chosen.connect(self.set_label_set)
        ab.preset_chosen.connect(self._on_preset)

    def _build_recording_menu(self, menu: QMenu) -> None:
        """Privacy choices for the next recording: media or analysis only, audio, face blurring."""
        self.record_choice_actions = {}
        for key, text in (
            ("record_media", "Video, audio and the frames each window used (off: analysis log only)"),
            ("record_audio", "Audio in the recorded media"),
            ("blur_faces", "Blur faces in recorded video and frames"),
        ):
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(bool(getattr(self.settings, key)))
            action.toggled.connect(lambda on, k=key: self._set_record_choice(k, on))
            self.record_choice_actions[key] = action
        menu.addSeparator()
        menu.addAction("Applies to the next recording").setEnabled(False)

    def _set_record_choice(self, key: str, on: bool) -> None:
        setattr(self.settings, key, on)
        for k in ("record_audio", "blur_faces"):
            self.record_choice_actions[k].setEnabled(self.settings.record_media)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_media = file_menu.addAction("Open media file or URL…")
        open_media.triggered.connect(lambda: self._on_source_chosen(SourceChoice(SOURCE_PICK_FILE)))
        every = file_menu.addAction("Analyse every window of a file…")
        every.setToolTip("Not in real time: every window of the file is analysed, as fast as the model allows")
        every.triggered.connect(self._analyse_file)
        demo = file_menu.addAction("Use the demo clip")
        demo.triggered.connect(lambda: self._on_source_chosen(SourceChoice(SOURCE_DEMO, str(DEMO_CLIP))))
        self.replay_action = file_menu.addAction("Open recorded session…")
        self.replay_action.triggered.connect(self._open_replay)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        view_menu = self.menuBar().addMenu("&View")
        self.follow_action = QAction("Follow now on the timeline", self, checkable=True, checked=True)
        self.follow_action.setShortcut(QKeySequence(Qt.Key.Key_F))
        self.follow_action.toggled.connect(self.timeline.set_follow)
        self.timeline.follow_changed.connect(self.follow_action.setChecked)
        view_menu.addAction(self.follow_action)
        dismiss = QAction("Dismiss message", self)
        dismiss.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        dismiss.triggered.connect(self.banner.dismiss)
        self.addAction(dismiss)
        view_menu.addAction(dismiss)
        view_menu.addSeparator()
        for name in (theme.DARK, theme.LIGHT):
            action = view_menu.addAction(f"{name.capitalize()} theme")
            action.triggered.connect(lambda _=False, n=name: self._set_theme(n))
        analysis_menu = self.menuBar().addMenu("&Analysis")
        for action in (
            self.monitor_bar.monitor_action,
            self.monitor_bar.record_action,
            self.monitor_bar.event_action,
            self.monitor_bar.exclude_action,
        ):
            analysis_menu.addAction(action)
        self._build_recording_menu(analysis_menu.addMenu("Recording keeps"))
        analysis_menu.addSeparator()
        for action in (
            self.analysis_bar.choose_action,
            self.analysis_bar.load_action,
            self.analysis_bar.unload_action,
            self.analysis_bar.download_action,
        ):
            analysis_menu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        shortcuts = help_menu.addAction("Keyboard shortcuts")
        shortcuts.triggered.connect(self._show_shortcuts)
        policy = help_menu.addAction("Usage policy")
        policy.triggered.connect(self.policy.show)

    def _connect_controller(self) -> None:
        w = self.controller.bridge
        w.model_loading_changed.connect(self._on_model_loading)
        w.model_loaded.connect(self._on_model_loaded)
        w.model_unloaded.connect(self._on_model_unloaded)
        w.window_started.connect(self._on_window_started)
        w.token_streamed.connect(self.reasoning.token_streamed)
        w.result_ready.connect(self._on_result)
        w.error_raised.connect(self._on_error)
        w.warning_raised.connect(lambda m: self.banner.show_message(banner_levels.WARNING, m))
        w.source_event.connect(self._on_source_event)
        self.controller.message_posted.connect(self.banner.show_message)
        self.controller.monitoring_changed.connect(self._on_monitoring_changed)
        self.controller.session_started.connect(self._on_session_started)
        self.controller.recording_changed.connect(self._on_recording_changed)

    def _restore_choices(self) -> None:
        s, ab = self.settings, self.analysis_bar
        for box, value in ((ab.window_spin, s.window_s), (ab.hop_spin, s.hop_s)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        ab.select(ab.labels_combo, s.label_set)
        ab.select(ab.preset_combo, s.instruction_preset)
        ab.check(ab.device_group, s.device)
        ab.check(ab.dtype_group, s.dtype)
        self._rebuild_pickers()  # demo clip, synthetic and the saved choice at once; devices when the scan answers
        self.refresh_devices()
        self._show_model_state(loaded=False)

    # ---- devices and sources -----------------------------------------------------------------------------
    def refresh_devices(self) -> None:
        """Look for cameras and microphones again, off the UI thread; the pickers are rebuilt when the lists
        arrive (``_on_devices_found``)."""
        self.statusBar().showMessage("Looking for cameras and microphones…", 3000)
        self.controller.scan_devices()

    def _on_devices_found(self, cameras: list, mics: list) -> None:
        self._devices = (list(cameras), list(mics))
        self._rebuild_pickers()

    def _rebuild_pickers(self) -> None:
        """Source and microphone pickers from the last device lists (empty until the first scan answers)."""
        scanned = self._devices is not None
        cameras, mics = self._devices if self._devices is not None else ([], [])
        choices = [SourceChoice(SOURCE_CAMERA, ref, name) for ref, name in cameras]
        choices.append(SourceChoice(SOURCE_DEMO, str(DEMO_CLIP), "Demo clip (synthetic face + speech)"))
        choices.append(SYNTHETIC_CHOICE)
        current = self.controller.source_choice
        if current is not None and current.kind == SOURCE_FILE:
            choices.append(current)
        if (
            current is not None
            and current.kind == SOURCE_CAMERA
            and current.ref not in [c for c, _ in cameras]
        ):
            choices.insert(0, SourceChoice(SOURCE_CAMERA, current.ref, f"camera {current.ref} (not found)"))
        self.monitor_bar.set_sources(choices, current)
        if current is not None and current.kind in (SOURCE_DEMO, SOURCE_FILE, SOURCE_SYNTHETIC):
            self.monitor_bar.set_microphone_enabled(False, "audio from the source")
        else:
            self.monitor_bar.set_microphone_enabled(True)
            self.monitor_bar.set_microphones(mics, self.controller.microphone_choice())
        self._have_cameras = bool(cameras) or not scanned  # not "no camera" before the scan has answered
        if not self.controller.monitoring:
            self._show_idle()
        if scanned and not mics and (current is None or current.kind == SOURCE_CAMERA):
            self.audio.set_unavailable("No microphone found. " + NO_MIC_TEXT)

    def _on_source_chosen(self, choice: SourceChoice) -> None:
        if choice.kind == SOURCE_PICK_FILE:
            path, _ = QFileDialog.getOpenFileName(self, "Open a media file", str(Path.home()), MEDIA_FILTER)
            if not path:
                self.monitor_bar.show_source(self.controller.source_choice)
                return
            choice = SourceChoice(SOURCE_FILE, path, Path(path).name)
        self.use_source(choice)

    def use_source(self, choice: SourceChoice) -> None:
        """Switch the video (and, for files, audio) source; monitoring restarts if it was running."""
        self.controller.set_source(choice)
        if choice.kind == SOURCE_CAMERA:
            self.settings.camera = choice.ref
        self._rebuild_pickers()

    def _on_microphone_chosen(self, choice) -> None:
        self.controller.set_microphone(choice)

    # ---- monitoring, recording, markers -----------------------------------------------------------------
    def start_monitoring(self) -> None:
        self.monitor_bar.monitor_action.setChecked(True)

    def stop_monitoring(self) -> None:
        self.monitor_bar.monitor_action.setChecked(False)

    def _on_monitor_toggled(self, on: bool) -> None:
        if on and not self.controller.monitoring:
            self.controller.start_monitoring()
        elif not on and self.controller.monitoring:
            self.controller.stop_monitoring()

    def _on_session_started(self, monitoring: bool) -> None:
        """A new session clock starts at 0 (monitoring started, or restarted for a new source, microphone or
        window length): the views start over with it. Recorded sessions keep the previous runs."""
        if not monitoring:
            return
        self._results.clear()
        self._evidence.clear()
        self._newest = None
        self._selected = None
        self.timeline.clear()
        self.reasoning.clear()
        self.audio.set_selection(None, None)

    def _show_idle(self) -> None:
        """What the video area says while not monitoring."""
        choice = self.controller.source_choice
        if choice is None or (choice.kind == SOURCE_CAMERA and not self._have_cameras):
            self.video.clear(NO_CAMERA_TEXT)
        else:
            self.video.clear(f"{choice.label}\nPress ● Monitor (Space) to start.")

    def _on_monitoring_changed(self, on: bool) -> None:
        if not on:
            self._show_idle()
            self.audio.set_unavailable("Not monitoring.")
        action = self.monitor_bar.monitor_action
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)
        action.setText("■ Stop" if on else "● Monitor")

    def _on_record_toggled(self, on: bool) -> None:
        if on != self.controller.recording:
            self.controller.set_recording(on)

    def _on_recording_changed(self, on: bool) -> None:
        action = self.monitor_bar.record_action
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)
        self.video.set_recording(on)

    def add_marker(self, kind: str, text: str = "") -> None:
        t = self.controller.add_marker(kind, text)
        if t is not None:
            self.timeline.add_marker(Marker(kind, t, text))

    # ---- model ---------------------------------------------------------------------------------------------
    def _choose_model_folder(self) -> None:
        start = self.settings.model_dir or str(self.controller.default_model_dir())
        path = QFileDialog.getExistingDirectory(self, "Choose the R1-Omni model folder", start)
        if path:
            self.settings.model_dir = path
            self.load_model()

    def load_model(self) -> None:
        if not self.settings.model_dir:
            self._choose_model_folder()
            return
        self.controller.load_model(self.settings.model_dir, self.settings.device, self.settings.dtype,
                                   self.settings.profile)

    def _download(self) -> None:
        from desktop.download_dialog import DownloadDialog  # only when asked for

        dialog = DownloadDialog(str(self.controller.default_model_dir()), self)
        dialog.finished_ok.connect(self._on_downloaded)
        dialog.show()

    def _on_downloaded(self, folder: str) -> None:
        self.settings.model_dir = folder
        self.banner.show_message(banner_levels.INFO, f"Weights downloaded to {folder}; loading…")
        self.load_model()

    def _on_error(self, message: str) -> None:
        self.banner.show_message(banner_levels.ERROR, message)
        if self._loading:  # the load failed: say why where the weights are explained
            self._loading = False
            self._show_model_state(loaded=self.controller.has_model)
            self.model_panel.set_reason(message)

    def _on_model_loading(self, message: str) -> None:
        self._loading = True
        self.analysis_bar.set_model_text("loading…")
        self.model_panel.title.setText(message)
        self.model_panel.set_reason("")

    def _on_model_loaded(self, info: dict) -> None:
        self._loading = False
        self._show_model_state(loaded=True, info=info)

    def _on_model_unloaded(self) -> None:
        # a session swap keeps the model: the controller knows whether it is really gone
        self._show_model_state(loaded=self.controller.has_model)

    def _show_model_state(self, loaded: bool, info: dict | None = None) -> None:
        if loaded:
            self.analysis_bar.set_model_text(self.controller.model_description())
            self.reasoning_stack.setCurrentWidget(self.reasoning)
        else:
            self.analysis_bar.set_model_text("none")
            self.model_panel.title.setText("No model loaded")
            self.reasoning_stack.setCurrentWidget(self._model_page)
        self.analysis_bar.unload_action.setEnabled(loaded)

    def _on_device_chosen(self, device: str) -> None:
        self.settings.device = device
        if self.controller.has_model:
            self.load_model()

    def _on_dtype_chosen(self, dtype: str) -> None:
        self.settings.dtype = dtype
        if self.controller.has_model:
            self.load_model()

    def _on_window_hop(self, window_s: float, hop_s: float) -> None:
        try:
            self.controller.set_window_hop(window_s, hop_s)
        except ValueError as exc:
            self.banner.show_message(banner_levels.WARNING, str(exc))
            return
        self.settings.window_s, self.settings.hop_s = window_s, hop_s

    def set_label_set(self, name: str) -> None:
        """``DFEW`` | ``MAFW`` | ``free``: answers are normalised to it, the timeline scores it."""
        self.settings.label_set = name
        self.analysis_bar.select(self.analysis_bar.labels_combo, name)
        self.timeline.set_label_set(core_labels.label_set(name))
        self._apply_params()

    def _on_preset(self, preset: str) -> None:
        if preset == "custom":
            text, ok = QInputDialog.getMultiLineText(
                self,
                "Custom instruction",
                "The question asked with every window:",
                self.settings.custom_instruction,
            )
            if not ok or not text.strip():
                self.analysis_bar.select(self.analysis_bar.preset_combo, self.settings.instruction_preset)
                return
            self.settings.custom_instruction = text
        self.settings.instruction_preset = preset
        self._apply_params()

    def _apply_params(self) -> None:
        try:
            self.controller.set_analysis(
                self.settings.instruction_preset, self.settings.custom_instruction, self.settings.label_set
            )
        except ValueError as exc:
            self.banner.show_message(banner_levels.WARNING, str(exc))

    # ---- worker events -------------------------------------------------------------------------------------
    def _on_window_started(self, window: Window) -> None:
        self.reasoning.window_started(window.id, window.t0, window.t1)
        self.timeline.set_pending((window.id, window.t0, window.t1))

    def _on_result(self, result: WindowResult, window: Window | None) -> None:
        self._results[result.window_id] = result
        if window is not None:
            self._evidence.add(window)
        if self._newest is None or result.t1 >= self._newest.t1:
            self._newest = result
        self.timeline.add_result(result)
        self.reasoning.result_ready(result)
        if self._selected == result.window_id:
            self.select_window(result.window_id)

    def select_window(self, window_id: int) -> None:
        """Show a window's evidence (timeline span click, history row click)."""
        result = self._results.get(window_id)
        if result is None:
            return
        self._selected = window_id
        self.timeline.select(window_id)
        self.reasoning.select(window_id)
        self.evidence.show_window(result, self._evidence.get(window_id))
        self.audio.set_selection(result.t0, result.t1)
        self.tabs.setCurrentWidget(self.evidence)

    # ---- source events --------------------------------------------------------------------------------------
    def _on_source_event(self, event) -> None:
        from core.capture import base as cap

        if event.kind == cap.EV_ERROR:
            self.banner.show_message(banner_levels.ERROR, f"{event.source}: {event.message}")
        elif event.kind == cap.EV_WARNING:
            self.banner.show_message(banner_levels.WARNING, f"{event.source}: {event.message}")
        elif event.kind == cap.EV_RECONNECTED or event.kind == cap.EV_ENDED:
            self.banner.show_message(banner_levels.INFO, f"{event.source}: {event.message}")

    # ---- timers ----------------------------------------------------------------------------------------------
    def _on_view_tick(self) -> None:
        self.loop_watch.tick()
        now_mono = time.monotonic()
        dt = now_mono - self._last_view_t
        self._last_view_t = now_mono
        latest = self.controller.latest_frame()
        if latest is not None and latest.index != self._preview_index:
            self._preview_index = latest.index
            self.video.set_frame(latest.frame)
            self._preview_count += 1
        tick = self.loop_watch.ticks
        if self.controller.monitoring and tick % WAVEFORM_EVERY_N_TICKS == 0:
            audio = self.controller.recent_audio(WAVEFORM_SPAN_S)
            if audio is not None:
                samples, rate, t_end = audio
                self.audio.set_audio(samples, rate, t_end, dt * WAVEFORM_EVERY_N_TICKS)
        if tick % TIMELINE_EVERY_N_TICKS == 0:
            if self.controller.monitoring:
                self.timeline.set_now(self.controller.now())
            self.timeline.refresh()
        self.reasoning.refresh()

    def _on_stats_tick(self) -> None:
        self._settings_saver.poll()  # a changed setting is written on the saver's thread
        now_mono = time.monotonic()
        span = now_mono - self._preview_fps_at
        self.preview_fps = self._preview_count / span if span > 0 else None
        self._preview_count = 0
        self._preview_fps_at = now_mono
        snap = self.controller.snapshot(preview_fps=self.preview_fps if self.controller.monitoring else None)
        if self._newest is not None and self.controller.monitoring:  # an age on this session's clock only
            age = self.controller.now() - self._newest.t1
            snap = snap.__class__(**{**snap.__dict__, "result_age_s": age})
            a = self._newest.analysis
            faces = self._newest.face_check
            note = faces.short_warning() if faces is not None else None
            self.video.set_emotion(a.label or a.answer or "no answer", age, note)  # unknown answers: grey
        else:
            self.video.set_emotion(None, None)
        self.status.show_snapshot(snap)
        audio_state = self.controller.audio_state()
        if audio_state:
            self.audio.set_unavailable(audio_state)
        self.audio_caption.setText(self.controller.audio_caption())

    # ---- misc ------------------------------------------------------------------------------------------------
    def _analyse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Analyse every window of a file", str(Path.home()), MEDIA_FILTER)
        if path:
            self.analyse_file(path)

    def analyse_file(self, path: str) -> None:
        """Every window of ``path``, as fast as the model allows; the pickers show the file."""
        self.controller.analyse_file(path)
        self._rebuild_pickers()

    def _open_replay(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open a recorded session", self.settings.record_dir or ""
        )
        if folder:
            self.open_replay(folder)

    def open_replay(self, folder: str) -> None:
        """Open a recorded session in its own replay window (monitoring goes on). The session is read on a
        "replay-open" thread (a long session's log takes a while); ``replay_opened`` brings the window."""
        from desktop.replay import load_replay

        self.statusBar().showMessage(f"Opening {Path(folder).name}…", 5000)

        def load() -> None:
            data = load_replay(folder)
            if not self._shut_down:
                self._replay_loaded.emit(data)

        threading.Thread(target=load, name="replay-open", daemon=True).start()

    def _show_replay(self, data: Any) -> None:
        from desktop.replay import ReplayWindow

        if self._shut_down:
            return
        window = ReplayWindow(data.session_dir, parent=self, data=data)
        window.show()
        self.replay_opened.emit(window)

    def _on_policy_ack(self) -> None:
        self.settings.policy_acknowledged = True  # saved by the settings saver within a second

    def _set_theme(self, name: str) -> None:
        """Switch the theme now (every open window is re-coloured) and remember it."""
        from PySide6.QtWidgets import QApplication

        self.settings.theme = name
        theme.switch(QApplication.instance(), name)

    def _show_shortcuts(self) -> None:
        lines = [
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
        ]
        self.banner.show_message(banner_levels.INFO, " · ".join(lines))

    @property
    def showing_model_setup(self) -> bool:
        """True while the reasoning area explains how to get the weights (no model loaded)."""
        return self.reasoning_stack.currentWidget() is self._model_page

    def status_text(self) -> str:
        return self.status.text()

    def shutdown(self) -> None:
        """Ordered shutdown: timers, then the controller (capture → scheduler → worker → writer), then
        settings. Idempotent; called by ``closeEvent``."""
        if self._shut_down:
            return
        self._shut_down = True
        self._view_timer.stop()
        self._stats_timer.stop()
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        self.controller.shutdown()
        self._settings_saver.close()  # the last state, written before the window goes

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
        self.closed.emit()
