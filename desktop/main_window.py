"""The main window: lays out the live views, routes user actions to the ``LiveController`` and worker
events to the views, and pulls rendering from two timers (~30 Hz views, ~1 Hz text and stats).

Nothing here waits on the model, a device or the disk: those live behind the controller's threads and
report back through queued signals.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QByteArray, QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QWidget,
)

from core import labels as core_labels
from core.attribution import Attribution
from core.results import WindowResult
from core.settings import SettingsSaver
from core.window import Window
from desktop import banner as banner_levels
from desktop import theme
from desktop.audio_view import WAVEFORM_SPAN_S
from desktop.controls import (
    SOURCE_CAMERA,
    SOURCE_DEMO,
    SOURCE_FILE,
    SOURCE_PICK_FILE,
    SOURCE_SYNTHETIC,
    AnalysisToolBar,
    MonitorToolBar,
    SourceChoice,
    source_label,
)
from desktop.evidence_store import EvidenceStore
from desktop.live_controller import DEMO_CLIP, SYNTHETIC_CHOICE, LiveController
from desktop.live_views import build_live_views
from desktop.loop_watch import LoopWatch
from desktop.menus import build_menus, shortcuts_text
from desktop.timeline import Marker
from desktop.voice_panel import DONE, FAILED, QUEUED, RUNNING, UNAVAILABLE, AttributionStatus

log = logging.getLogger(__name__)

DEFAULT_SIZE_PX = (1360, 860)  # first start; later starts restore the user's geometry
VIEW_PERIOD_MS = 33  # preview, meter, waveform, timeline, token flush (~30 Hz)
STATS_PERIOD_MS = 1000  # status bar, overlay age (~1 Hz)
WAVEFORM_EVERY_N_TICKS = 2  # meter + waveform at 15 Hz: smooth to the eye, half the axis work
TIMELINE_EVERY_N_TICKS = 3  # timeline scroll at 10 Hz: it moves a pixel or two per update
MEDIA_PATTERNS = "*.mp4 *.mkv *.mov *.avi *.webm *.m4v *.mp3 *.wav *.flac"

# translated where shown (context "MainWindow")
NO_CAMERA_TEXT = QT_TRANSLATE_NOOP(
    "MainWindow",
    "No camera found.\nPick the demo clip, or open a media file or stream URL, in the Source list.\n"
    "From a terminal: python main.py --source demo",
)
NO_MIC_TEXT = QT_TRANSLATE_NOOP("MainWindow", "No microphone — analysis is video-only (the model hears nothing).")


def media_filter() -> str:
    return QCoreApplication.translate("MainWindow", "Media ({patterns});;All files (*)").format(
        patterns=MEDIA_PATTERNS)


class MainWindow(QMainWindow):
    """R1-Omni Live's window. ``closed`` fires after the ordered shutdown has finished."""

    closed = Signal()
    replay_opened = Signal(object)  # a ReplayWindow, once its session was read

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
        self._attributions: dict[int, AttributionStatus] = {}  # of the shown session's windows
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
        self._first_frame_logged = False  # start-up time is measured up to this log line (packaging/build_app.py)
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
        v = build_live_views(str(self.controller.model.default_model_dir()),
                             core_labels.label_set(self.settings.label_set))
        self.banner, self.policy, self.video, self.audio = v.banner, v.policy, v.video, v.audio
        self.audio_caption, self.reasoning, self.model_panel = v.audio_caption, v.reasoning, v.model_panel
        self._model_page, self.reasoning_stack, self.evidence = v.model_page, v.reasoning_stack, v.evidence
        self.tabs, self.timeline, self.status = v.tabs, v.timeline, v.status
        self.policy.acknowledged.connect(self._on_policy_ack)
        self.policy.setVisible(not self.settings.policy_acknowledged)
        self.reasoning.window_selected.connect(self.select_window)
        self.model_panel.choose_folder_requested.connect(self._choose_model_folder)
        self.model_panel.download_requested.connect(self._download)
        self.timeline.window_selected.connect(self.select_window)
        self.setCentralWidget(v.central)
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
        self.controller.devices_found.connect(self._on_devices_found)
        ab.choose_model_requested.connect(self._choose_model_folder)
        ab.remote_requested.connect(self._choose_remote_server)
        ab.load_requested.connect(self.load_model)
        ab.unload_requested.connect(self.controller.model.unload)
        ab.download_requested.connect(self._download)
        ab.device_chosen.connect(partial(self._on_model_option, "device"))
        ab.dtype_chosen.connect(partial(self._on_model_option, "dtype"))
        ab.profile_chosen.connect(partial(self._on_model_option, "profile"))
        ab.window_hop_changed.connect(self._on_window_hop)
        ab.label_set_chosen.connect(self.set_label_set)
        ab.preset_chosen.connect(self._on_preset)

    def _build_menus(self) -> None:
        (self.follow_action, self.replay_action, self.record_choice_actions,
         self.auto_attribution_actions) = build_menus(self)

    def _set_auto_attribution(self, mode: str) -> None:
        self.controller.model.set_auto_attribution(mode)

    def _set_record_choice(self, key: str, on: bool) -> None:
        setattr(self.settings, key, on)
        for k in ("record_audio", "blur_faces"):
            self.record_choice_actions[k].setEnabled(self.settings.record_media)

    def _connect_controller(self) -> None:
        m = self.controller.model.bridge
        m.model_loading_changed.connect(self._on_model_loading)
        m.model_loaded.connect(self._on_model_loaded)
        m.model_unloaded.connect(self._on_model_unloaded)
        m.error_raised.connect(self._on_error)
        m.warning_raised.connect(lambda msg: self.banner.show_message(banner_levels.WARNING, msg))
        w = self.controller.bridge
        w.window_started.connect(self._on_window_started)
        w.token_streamed.connect(self.reasoning.token_streamed)
        w.result_ready.connect(self._on_result)
        w.error_raised.connect(self._on_error)
        w.warning_raised.connect(lambda m: self.banner.show_message(banner_levels.WARNING, m))
        w.source_event.connect(self._on_source_event)
        w.attribution_started.connect(lambda wid: self._set_attribution(wid, AttributionStatus(RUNNING)))
        w.attribution_yielded.connect(self._on_attribution_yielded)
        w.attribution_ready.connect(self._on_attribution_ready)
        w.attribution_failed.connect(lambda wid, msg: self._set_attribution(wid, AttributionStatus(FAILED,
                                                                                                  message=msg)))
        w.attribution_cancelled.connect(self._on_attribution_cancelled)
        self.evidence.attribution_requested.connect(self.request_attribution)
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
        ab.check(ab.profile_group, s.profile)
        self._rebuild_pickers()  # demo clip, synthetic and the saved choice at once; devices when the scan answers
        self.refresh_devices()
        self._show_model_state(loaded=False)

    # ---- devices and sources -----------------------------------------------------------------------------
    def refresh_devices(self) -> None:
        """Look for cameras and microphones again, off the UI thread; the pickers are rebuilt when the lists
        arrive (``_on_devices_found``)."""
        self.statusBar().showMessage(self.tr("Looking for cameras and microphones…"), 3000)
        self.controller.scan_devices()

    def _on_devices_found(self, cameras: list, mics: list) -> None:
        self._devices = (list(cameras), list(mics))
        self._rebuild_pickers()

    def _rebuild_pickers(self) -> None:
        """Source and microphone pickers from the last device lists (empty until the first scan answers)."""
        scanned = self._devices is not None
        cameras, mics = self._devices if self._devices is not None else ([], [])
        choices = [SourceChoice(SOURCE_CAMERA, ref, name) for ref, name in cameras]
        choices.append(SourceChoice(SOURCE_DEMO, str(DEMO_CLIP), self.tr("Demo clip (synthetic face + speech)")))
        choices.append(SYNTHETIC_CHOICE)
        current = self.controller.source_choice
        if current is not None and current.kind == SOURCE_FILE:
            choices.append(current)
        if (
            current is not None
            and current.kind == SOURCE_CAMERA
            and current.ref not in [c for c, _ in cameras]
        ):
            choices.insert(0, SourceChoice(SOURCE_CAMERA, current.ref,
                                           self.tr("camera {index} (not found)").format(index=current.ref)))
        self.monitor_bar.set_sources(choices, current)
        if current is not None and current.kind in (SOURCE_DEMO, SOURCE_FILE, SOURCE_SYNTHETIC) and not (
            current.kind == SOURCE_FILE and "://" in str(current.ref)  # a stream: video only, audio from a mic
        ):
            self.monitor_bar.set_microphone_enabled(False, self.tr("audio from the source"))
        else:
            self.monitor_bar.set_microphone_enabled(True)
            self.monitor_bar.set_microphones(mics, self.controller.microphone_choice())
        self._have_cameras = bool(cameras) or not scanned  # not "no camera" before the scan has answered
        if not self.controller.monitoring:
            self._show_idle()
        if scanned and not mics and (current is None or current.kind == SOURCE_CAMERA):
            self.audio.set_unavailable(self.tr("No microphone found.") + " " + self.tr(NO_MIC_TEXT))

    def _on_source_chosen(self, choice: SourceChoice) -> None:
        if choice.kind == SOURCE_PICK_FILE:
            path, _ = QFileDialog.getOpenFileName(self, self.tr("Open a media file"), str(Path.home()),
                                                  media_filter())
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
        self._attributions.clear()
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
            self.video.clear(self.tr(NO_CAMERA_TEXT))
        else:
            self.video.clear(self.tr("{source}\nPress ● Monitor (Space) to start.").format(source=source_label(choice)))

    def _on_monitoring_changed(self, on: bool) -> None:
        if not on:
            self._show_idle()
            self.audio.set_unavailable(self.tr("Not monitoring."))
        action = self.monitor_bar.monitor_action
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)
        action.setText(self.tr("■ Stop") if on else self.tr("● Monitor"))

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
        self.settings.use_remote = False  # a folder chosen: the local model from now on
        start = self.settings.model_dir or str(self.controller.model.default_model_dir())
        path = QFileDialog.getExistingDirectory(self, self.tr("Choose the R1-Omni model folder"), start)
        if path:
            self.settings.model_dir = path
            self.load_model()

    def load_model(self) -> None:
        if self.settings.use_remote and self.settings.remote_url:
            self.connect_remote(self.settings.remote_url, None, self.settings.remote_ca_file)
            return
        if not self.settings.model_dir:
            self._choose_model_folder()
            return
        self.controller.model.load(self.settings.model_dir, self.settings.device, self.settings.dtype,
                                   self.settings.profile)

    def _choose_remote_server(self) -> None:
        from desktop.remote_dialog import RemoteServerDialog  # only when asked for

        dialog = RemoteServerDialog(self.settings.remote_url, self.settings.remote_ca_file, self)
        if dialog.exec() != RemoteServerDialog.DialogCode.Accepted:
            return
        url, token, ca_file = dialog.values()
        self.connect_remote(url, token, ca_file)

    def connect_remote(self, url: str, token: str | None, ca_file: str = "", remember: bool = True) -> None:
        """Use the model server at ``url``: a new ``token`` is stored (keyring or a 0600 file) when ``remember``,
        none means the stored one (or R1OMNI_SERVE_TOKEN). The keyring and the connection are used off the UI
        thread; ``model_loaded`` or a banner follows."""
        from core.serve.client import RemoteTarget
        from core.serve.credentials import TokenStore
        from core.serve.security import resolve_token

        config_dir = self.settings.target().parent

        def prepare() -> RemoteTarget | Exception:
            try:
                key = RemoteTarget.parse(url).url  # as the dialog writes it: one token and one setting per server
                store = TokenStore(config_dir)  # probes the keyring (D-Bus): not on the UI thread
                chosen = token
                if chosen and remember:
                    store.save(key, chosen)
                chosen = chosen or store.load(key) or resolve_token(None)
                return RemoteTarget.parse(key, chosen, ca_file or None)
            except (OSError, ValueError) as exc:
                return exc

        def connect(target: RemoteTarget | Exception) -> None:
            if isinstance(target, Exception):
                self._on_error(self.tr("Cannot use the model server {url}: {error}").format(url=url, error=target))
                return
            self.settings.remote_url, self.settings.remote_ca_file = target.url, ca_file
            self.settings.use_remote = True
            self.controller.model.load_remote(target)

        self.controller.tasks.run(prepare, then=connect)

    def _download(self) -> None:
        from desktop.download_dialog import DownloadDialog  # only when asked for

        dialog = DownloadDialog(str(self.controller.model.default_model_dir()), self)
        dialog.finished_ok.connect(self._on_downloaded)
        dialog.show()

    def _on_downloaded(self, folder: str) -> None:
        self.settings.model_dir = folder
        self.banner.show_message(banner_levels.INFO, self.tr("Weights downloaded to {folder}; loading…").format(
            folder=folder))
        self.load_model()

    def _on_error(self, message: str) -> None:
        self.banner.show_message(banner_levels.ERROR, message)
        if self._loading:  # the load failed: say why where the weights are explained
            self._loading = False
            self._show_model_state(loaded=self.controller.model.has_model)
            self.model_panel.set_reason(message)

    def _on_model_loading(self, message: str) -> None:
        self._loading = True
        self.analysis_bar.set_model_text(self.tr("loading…"))
        self.model_panel.title.setText(message)
        self.model_panel.set_reason("")

    def _on_model_loaded(self, info: dict) -> None:
        self._loading = False
        self._show_model_state(loaded=True, info=info)

    def _on_model_unloaded(self) -> None:
        self._show_model_state(loaded=False)

    def _show_model_state(self, loaded: bool, info: dict | None = None) -> None:
        if loaded:
            self.analysis_bar.set_model_text(self.controller.model.description())
            note = self.controller.model.precision_note()
            self.analysis_bar.model_button.setToolTip(
                self.tr("Model folder, load/unload, download, device and precision") + (f"\n{note}" if note else ""))
            self.reasoning_stack.setCurrentWidget(self.reasoning)
        else:
            self.analysis_bar.set_model_text(self.tr("none"))
            self.model_panel.title.setText(self.tr("No model loaded"))
            self.reasoning_stack.setCurrentWidget(self._model_page)
        self.analysis_bar.unload_action.setEnabled(loaded)

    def _on_model_option(self, key: str, value: str) -> None:
        """``device`` | ``dtype`` | ``profile`` chosen: remembered, and a loaded model is loaded again with it."""
        setattr(self.settings, key, value)
        if self.controller.model.has_model:
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
                self.tr("Custom instruction"),
                self.tr("The question asked with every window:"),
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
            self.controller.model.set_analysis(
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
            self._evidence.add(window, result.frame_indices)
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
        self.evidence.show_window(result, self._evidence.get(window_id),
                                  attribution=self.attribution_status(window_id))
        self.audio.set_selection(result.t0, result.t1)
        self.tabs.setCurrentWidget(self.evidence)

    # ---- attribution: what did the voice add? ---------------------------------------------------------------
    def request_attribution(self, window_id: int) -> None:
        """Re-run a shown window video-only (the evidence view's button); live windows go first."""
        why_not = self.controller.request_attribution(window_id)
        self._set_attribution(window_id, AttributionStatus(UNAVAILABLE, message=why_not) if why_not
                              else AttributionStatus(QUEUED))

    def attribution_status(self, window_id: int) -> AttributionStatus:
        return self._attributions.get(window_id, AttributionStatus())

    def _set_attribution(self, window_id: int, status: AttributionStatus) -> None:
        if window_id not in self._results:
            return  # a window of an earlier session
        old = self._attributions.get(window_id)
        if old is not None and old.state == DONE and status.state != DONE:
            return  # a finished attribution stays shown (a repeated request's events change nothing)
        self._attributions[window_id] = replace(status, waited=max(status.waited, old.waited if old else 0))
        if self._selected == window_id and self.evidence.window_id == window_id:
            self.evidence.show_attribution(self._attributions[window_id])

    def _on_attribution_ready(self, window_id: int, attribution: Attribution) -> None:
        result = self._results.get(window_id)
        if result is None or not attribution.matches(window_id, result.t0, result.wall_t0):
            return
        self._attributions.pop(window_id, None)
        self._set_attribution(window_id, AttributionStatus(DONE, attribution))

    def _on_attribution_yielded(self, window_id: int) -> None:
        old = self.attribution_status(window_id)
        self._set_attribution(window_id, AttributionStatus(QUEUED, waited=old.waited + 1))

    def _on_attribution_cancelled(self, window_id: int) -> None:
        if self.attribution_status(window_id).state in (QUEUED, RUNNING):
            self._attributions.pop(window_id, None)
            self._set_attribution(window_id, AttributionStatus())

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
            if not self._first_frame_logged:
                self._first_frame_logged = True
                log.info("first preview frame shown (%dx%d)", latest.frame.shape[1], latest.frame.shape[0])
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
            notes = [faces.short_warning() if faces is not None else None,
                     self.tr("approximate (fast profile)") if a.profile != "exact" else None]
            note = " · ".join(n for n in notes if n) or None
            self.video.set_emotion(a.label or a.answer or self.tr("no answer"), age, note)  # unknown answers: grey
        else:
            self.video.set_emotion(None, None)
        self.status.show_snapshot(snap)
        audio_state = self.controller.audio_state()
        if audio_state:
            self.audio.set_unavailable(audio_state)
        self.audio_caption.setText(self.controller.audio_caption())

    # ---- misc ------------------------------------------------------------------------------------------------
    def _analyze_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Analyse every window of a file"), str(Path.home()),
                                              media_filter())
        if path:
            self.analyze_file(path)

    def analyze_file(self, path: str) -> None:
        """Every window of ``path``, as fast as the model allows; the pickers show the file."""
        self.controller.analyze_file(path)
        self._rebuild_pickers()

    def _open_replay(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Open a recorded session"), self.settings.record_dir or ""
        )
        if folder:
            self.open_replay(folder)

    def open_replay(self, folder: str) -> None:
        """Open a recorded session in its own replay window (monitoring goes on). The session is read off the UI
        thread (a long session's log takes a while); ``replay_opened`` brings the window."""
        from core.session.playback import load_replay

        self.statusBar().showMessage(self.tr("Opening {name}…").format(name=Path(folder).name), 5000)
        self.controller.tasks.run(lambda: load_replay(folder), then=self._show_replay)

    def _show_replay(self, data: Any) -> None:
        from desktop.replay import ReplayWindow

        if self._shut_down:
            return
        window = ReplayWindow(data.session_dir, parent=self, data=data, worker=self.controller.model.worker)
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
        self.banner.show_message(banner_levels.INFO, shortcuts_text())

    def _set_language(self, language: str) -> None:
        """Remember the UI language (System / English / 简体中文); it applies when the app starts next."""
        from desktop import i18n

        self.settings.language = language
        if i18n.resolve(language) == i18n.current():
            return
        self.banner.show_message(banner_levels.INFO, self.tr(
            "The language changes when R1-Omni Live starts next."))

    @property
    def showing_model_setup(self) -> bool:
        """True while the reasoning area explains how to get the weights (no model loaded)."""
        return self.reasoning_stack.currentWidget() is self._model_page

    def status_text(self) -> str:
        return self.status.text()

    def shutdown(self) -> None:
        """Ordered shutdown: timers, then the controller (capture → scheduler → model worker → writer), then
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
