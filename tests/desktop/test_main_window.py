"""The real main window driven offscreen: media-file source, the tiny parity model, no-model and no-device
states, unplugged devices, markers, recording and the ordered shutdown."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from core.capture import camera as camera_mod
from core.capture import microphone as microphone_mod
from core.capture.camera import CameraSource
from core.capture.microphone import MicrophoneSource
from core.settings import Settings
from desktop.controls import SOURCE_CAMERA, SourceChoice
from desktop.live_controller import LiveController
from desktop.main_window import MainWindow
from desktop.startup import source_choice
from tests.conftest import PARITY_DIR
from tests.desktop.fakes import FakeStream, ScriptedModel, UnpluggableCamera

PARITY_CKPT = PARITY_DIR / "checkpoint"
CORE_THREAD_PREFIXES = (
    "capture-",
    "scheduler",
    "inference-worker",
    "face-check",
    "desktop-task",
    "session-",
    "fake-mic",
    "settings-save",
)


def core_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(CORE_THREAD_PREFIXES)]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("R1OMNI_LIVE_CONFIG_DIR", str(tmp_path / "config"))
    s = Settings.load(tmp_path / "config" / "settings.json")
    s.max_new_tokens = 12  # keeps the parity model's windows short
    s.record_dir = str(tmp_path / "sessions")
    s.camera = None
    return s


@pytest.fixture
def make_window(qtbot, settings):
    windows: list[MainWindow] = []

    def make(**controller_kwargs) -> MainWindow:
        controller = LiveController(settings, **controller_kwargs)
        window = MainWindow(settings, controller)
        qtbot.addWidget(window)
        window.resize(1280, 820)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
    assert not core_threads(), f"threads left behind: {core_threads()}"


def test_no_model_no_camera_still_captures_marks_and_records(qtbot, make_window, settings, tmp_path):
    win = make_window()
    # nothing chosen yet: the reasoning area explains how to get the weights
    assert win.showing_model_setup
    assert "python main.py download" in win.model_panel.body.text()
    assert "config.json" in win.model_panel.body.text()
    win.use_source(source_choice("demo"))
    win.start_monitoring()
    qtbot.waitUntil(lambda: win.video.frames_shown > 15, timeout=15000)
    qtbot.waitUntil(lambda: "video 2" in win.status_text() or "video 3" in win.status_text(), timeout=5000)
    assert "no model" in win.status_text()
    win.activateWindow()
    win.setFocus()
    qtbot.keyClick(win, Qt.Key.Key_M)  # marker hotkeys
    qtbot.keyClick(win, Qt.Key.Key_X)
    assert [m.kind for m in win.timeline.markers] == ["event", "exclude"]
    # recording works without a model; the Recording menu's privacy choices reach the bundle
    win.record_choice_actions["record_audio"].setChecked(False)
    win.record_choice_actions["blur_faces"].setChecked(True)
    win.record_choice_actions["blur_faces"].setChecked(False)
    assert settings.record_audio is False and settings.blur_faces is False
    win.monitor_bar.record_action.trigger()
    qtbot.waitUntil(lambda: win.controller.recording, timeout=5000)
    assert not win.video._rec.isHidden()
    win.add_marker("exclude", "cough")
    qtbot.wait(600)
    win.monitor_bar.record_action.trigger()
    qtbot.waitUntil(lambda: not win.controller.recording, timeout=10000)
    [session] = list(Path(settings.record_dir).iterdir())
    manifest = json.loads((session / "manifest.json").read_text())
    assert manifest["window_s"] == settings.window_s
    assert manifest["recording"]["record_audio"] is False and manifest["recording"]["record_video"] is True
    assert list(session.rglob("*.ts")) and not list(session.rglob("*.pcm"))  # video kept, audio left out
    events = (session / "events.jsonl").read_text()
    assert '"exclude"' in events and "cough" in events
    opened = []
    win.replay_opened.connect(opened.append)
    win.open_replay(str(session))  # File ▸ Open recorded session…: read on a thread, then shown
    qtbot.waitUntil(lambda: bool(opened), timeout=10000)
    replay = opened[0]
    assert replay.isVisible() and replay.error is None
    replay.close()
    win.stop_monitoring()
    qtbot.waitUntil(lambda: "Press ● Monitor" in win.video._empty.text(), timeout=5000)


@pytest.mark.slow
def test_media_file_and_parity_model_stream_spans_and_evidence(qtbot, make_window):
    win = make_window()
    deltas: dict[int, list[str]] = {}
    win.controller.bridge.token_streamed.connect(lambda wid, text: deltas.setdefault(wid, []).append(text))
    # load first (torch's import alone takes seconds here); the model is kept when monitoring starts
    win.controller.model.load(str(PARITY_CKPT), "cpu", "float32")
    qtbot.waitUntil(lambda: win.reasoning_stack.currentWidget() is win.reasoning, timeout=60000)
    assert win.controller.model.has_model and "float32" in win.analysis_bar.model_button.text()
    win.use_source(source_choice(str(Path("resources/demo.mp4").resolve())))
    win.start_monitoring()
    qtbot.waitUntil(lambda: len(win._results) >= 2, timeout=60000)
    qtbot.wait(100)  # one display tick

    results = dict(win._results)
    assert win.timeline.span_count() >= 2
    assert set(win.reasoning.history_ids()) >= set(results)
    # the streamed deltas of a window add up to the text of its result
    wid, result = next((w, r) for w, r in results.items() if w in deltas)
    assert "".join(deltas[wid]).strip() == result.analysis.text.strip()
    assert result.t1 - result.t0 == pytest.approx(win.settings.window_s)

    # click the middle of that window's span on the timeline
    win.timeline.set_follow(False)
    win.timeline.lane_plot.setXRange(result.t0 - 2, result.t1 + 6, padding=0)
    qtbot.wait(50)
    geometry = {r.window_id: (a, b) for r, a, b in win.timeline._span_geometry}
    a, b = geometry[wid]
    mid_t = (result.t0 + result.t1) / 2  # overlapping windows sit on different rows: y picks this one
    pos = win.timeline.graphics.mapFromScene(win.timeline.scene_pos_of(mid_t, (a + b) / 2))
    qtbot.mouseClick(win.timeline.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: win.evidence.window_id == wid, timeout=2000)
    assert win.tabs.currentWidget() is win.evidence
    assert all(not t.pixmap().isNull() for t in win.evidence.thumbs)
    assert "frames the model saw" in win.evidence._frames_title.text()
    assert f"window #{wid}" in win.evidence.header.text()


def test_unplugging_camera_and_microphone_shows_messages_and_keeps_running(qtbot, make_window, monkeypatch):
    monkeypatch.setattr(camera_mod, "RECONNECT_PERIOD_S", 0.2)
    monkeypatch.setattr(microphone_mod, "RECONNECT_PERIOD_S", 0.2)
    camera = UnpluggableCamera()
    FakeStream.plugged = True

    def sources(choice, microphone):
        return (
            CameraSource(0, opener=camera),
            MicrophoneSource(0, samplerate=16_000, stream_factory=FakeStream),
        )

    win = make_window(source_factory=sources)
    win.use_source(SourceChoice(SOURCE_CAMERA, 0, "camera 0"))
    win.start_monitoring()
    qtbot.waitUntil(lambda: win.video.frames_shown > 10, timeout=10000)
    qtbot.waitUntil(lambda: win.audio.meter.peak_db > -20, timeout=5000)

    camera.unplug()
    qtbot.waitUntil(lambda: "stopped delivering" in win.banner.message, timeout=5000)
    FakeStream.plugged = False
    qtbot.waitUntil(lambda: "unplugged" in win.banner.message, timeout=5000)
    qtbot.waitUntil(lambda: "Audio lost" in win.audio.unavailable_text, timeout=5000)
    ticks = win.loop_watch.ticks
    qtbot.wait(300)
    assert win.loop_watch.ticks > ticks and win.isVisible()  # still running, no modal
    assert win.controller.monitoring

    FakeStream.plugged = True  # the microphone comes back
    qtbot.waitUntil(lambda: "microphone is back" in win.banner.message, timeout=5000)
    FakeStream.plugged = True


def test_closing_shuts_down_in_order_without_leftover_threads(qtbot, make_window, settings):
    win = make_window()
    win.use_source(source_choice("demo"))
    win.start_monitoring()
    win.controller.set_recording(True)
    qtbot.waitUntil(lambda: win.controller.recording, timeout=10000)
    order: list[str] = []
    session = win.controller.session

    def spy(name, fn):
        def wrapped(*a, **kw):
            order.append(name)
            return fn(*a, **kw)

        return wrapped

    session.video.stop = spy("capture", session.video.stop)
    session.scheduler.stop = spy("scheduler", session.scheduler.stop)
    win.controller.model.worker.stop = spy("worker", win.controller.model.worker.stop)
    session.writer.stop = spy("writer", session.writer.stop)
    win._settings_saver.close = spy("settings", win._settings_saver.close)
    win.close()
    assert order[:5] == ["capture", "scheduler", "worker", "writer", "settings"]
    assert not core_threads(), core_threads()  # the settings saver's thread too
    saved = json.loads(Path(settings.target()).read_text())
    assert saved["window_geometry"] == settings.window_geometry != ""  # the state at close, on the disk


def test_model_load_failure_is_shown_and_the_app_recovers(qtbot, make_window, tmp_path):
    win = make_window()
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    win.controller.model.load(str(broken), "cpu", "float32")
    qtbot.waitUntil(lambda: win.banner.level == "error", timeout=60000)
    assert "load" in win.banner.message.lower()
    assert win.showing_model_setup
    assert win.model_panel.reason.text() == win.banner.message  # the reason sits next to the instructions
    win.use_source(source_choice("demo"))
    win.start_monitoring()
    qtbot.waitUntil(lambda: win.video.frames_shown > 5, timeout=10000)


def test_policy_notice_shows_once(qtbot, make_window, settings):
    win = make_window()
    assert not win.policy.isHidden()
    qtbot.mouseClick(win.policy.findChild(QPushButton), Qt.MouseButton.LeftButton)
    assert win.policy.isHidden()
    # saved off the UI thread within a stats tick (1 s), no need to close the window
    qtbot.waitUntil(lambda: Settings.load(settings.path).policy_notice_accepted, timeout=5000)
    again = make_window()
    assert again.policy.isHidden()


@pytest.mark.slow
def test_out_of_memory_in_one_window_is_shown_and_analysis_goes_on(qtbot, make_window, settings):
    model = ScriptedModel(fail_on={1})  # call 0 is the warm-up
    settings.window_s, settings.hop_s = 2.0, 1.0  # windows sooner
    win = make_window(loader=lambda request: model)
    win.controller.model.load("/models/scripted", "cpu", "float32")
    qtbot.waitUntil(lambda: not win.showing_model_setup, timeout=10000)
    win.use_source(source_choice("demo"))
    win.start_monitoring()
    qtbot.waitUntil(lambda: "Out of memory" in " ".join(m for _, m in win.banner.history), timeout=20000)
    qtbot.waitUntil(lambda: len(win._results) >= 2, timeout=20000)  # the next windows are analysed

    def overlay_names_the_newest() -> bool:  # refreshed by the 1 Hz stats tick
        newest = max(win._results.values(), key=lambda r: r.t1)
        return win.video.overlay_text.startswith(newest.analysis.label.upper() + "  ·")

    qtbot.waitUntil(overlay_names_the_newest, timeout=3000)
    assert "123.0 MiB" in win.status_text() and "scripted" in win.status_text()
    # the live text restarts with each window: read it once the newest window has streamed (not in between)
    qtbot.waitUntil(lambda: win.reasoning.live_text.startswith("<think>The speaker"), timeout=3000)


@pytest.mark.slow
def test_changing_the_window_length_restarts_the_session_and_keeps_the_model(qtbot, make_window, settings):
    model = ScriptedModel()
    loads = []
    settings.window_s, settings.hop_s = 2.0, 1.0

    def loader(request):
        loads.append(request)
        return model

    win = make_window(loader=loader)
    win.controller.model.load("/models/scripted", "cpu", "float32")
    qtbot.waitUntil(lambda: not win.showing_model_setup, timeout=10000)
    win.use_source(source_choice("demo"))
    win.start_monitoring()
    qtbot.waitUntil(lambda: len(win._results) >= 1, timeout=15000)
    first_session = win.controller.session
    win.analysis_bar.window_spin.setValue(3.0)  # user edits the window length while monitoring
    qtbot.waitUntil(lambda: win.controller.session not in (None, first_session), timeout=15000)
    assert win.timeline.results == {}  # the new session's clock starts at 0: the views start over
    qtbot.waitUntil(lambda: len(win._results) >= 1, timeout=15000)
    assert all(r.t1 - r.t0 == pytest.approx(3.0) for r in win._results.values())
    assert len(loads) == 1 and win.controller.model.has_model  # the model was kept, not loaded again
    assert settings.window_s == 3.0  # remembered for the next start


def test_synthetic_source_needs_no_file_or_device(qtbot, make_window):
    win = make_window()
    win.use_source(source_choice("synthetic"))
    win.start_monitoring()
    qtbot.waitUntil(lambda: win.video.frames_shown > 10, timeout=10000)
    qtbot.waitUntil(lambda: win.audio.meter.peak_db > -20, timeout=5000)  # the chirp is about -10 dBFS
    assert not win.monitor_bar.mic_combo.isEnabled()  # the source brings its own audio



def test_device_scan_runs_off_the_ui_thread_and_fills_the_pickers(qtbot, make_window, monkeypatch):
    from desktop import live_controller as lc

    release = threading.Event()
    scanned_on: list[str] = []

    def slow_listing():
        scanned_on.append(threading.current_thread().name)
        release.wait(10)  # a PortAudio re-initialise that takes its time
        return [(3, "USB camera (/dev/video3)")], [(7, "USB mic", True)]  # as list_devices gives them

    monkeypatch.setattr(lc, "list_devices", slow_listing)
    win = make_window()
    # the window is up and usable while the scan is still running
    qtbot.waitUntil(lambda: bool(scanned_on), timeout=5000)
    labels = [win.monitor_bar.source_combo.itemText(i) for i in range(win.monitor_bar.source_combo.count())]
    assert not any("USB camera" in t for t in labels)
    assert any("Demo clip" in t for t in labels)
    win.refresh_devices()  # asked again while one runs: runs once more afterwards, not twice at once
    release.set()
    qtbot.waitUntil(lambda: len(scanned_on) == 2, timeout=5000)
    assert all(name.startswith("desktop-task") for name in scanned_on) and len(scanned_on) == 2  # off the UI thread
    qtbot.waitUntil(
        lambda: any(
            "USB camera" in win.monitor_bar.source_combo.itemText(i)
            for i in range(win.monitor_bar.source_combo.count())
        ),
        timeout=5000,
    )
    mics = [win.monitor_bar.mic_combo.itemText(i) for i in range(win.monitor_bar.mic_combo.count())]
    assert any("USB mic" in t for t in mics)


def test_every_window_of_a_file_lands_on_the_timeline_and_is_recorded(qtbot, make_window, settings):
    from core.sources import DEMO_CLIP

    settings.window_s, settings.hop_s = 2.0, 1.0
    win = make_window(loader=lambda request: ScriptedModel(seconds=0.2))  # slower than real time at this hop
    win.analyze_file(str(DEMO_CLIP))
    assert "Load a model first" in " ".join(m for _, m in win.banner.history)
    assert not win.controller.monitoring
    win.controller.model.load("/models/scripted", "cpu", "float32")
    qtbot.waitUntil(lambda: not win.showing_model_setup, timeout=10000)
    win.controller.set_recording(True)
    win.analyze_file(str(DEMO_CLIP))
    qtbot.waitUntil(lambda: win.controller.monitoring, timeout=10000)
    assert win.controller.analyzing_file
    qtbot.waitUntil(lambda: not win.controller.monitoring, timeout=60000)  # the end of the file ends it
    assert sorted(win._results) == list(range(11))  # 12 s, 2 s windows every 1 s: t1 = 2 .. 12, none skipped
    assert [win._results[i].t1 for i in range(11)] == [float(t) for t in range(2, 13)]
    qtbot.waitUntil(lambda: win.timeline.span_count() == 11, timeout=5000)  # drawn on the next view tick
    # not monitoring any more: the results stay, the overlay (an age on a clock that has gone) does not
    qtbot.waitUntil(lambda: win.video.overlay_text == "", timeout=3000)
    assert "Analysed every window of demo.mp4: 11 of 11 windows" in " ".join(m for _, m in win.banner.history)
    qtbot.waitUntil(lambda: not win.controller.recording, timeout=10000)
    [session] = list(Path(settings.record_dir).iterdir())
    logged = [json.loads(x) for x in (session / "events.jsonl").read_text().splitlines()]
    assert [e["window_id"] for e in logged if e["type"] == "window"] == list(range(11))


def test_a_source_swap_during_a_long_model_step_returns_at_once_and_one_load_serves_every_run(
        qtbot, make_window, settings):
    """The window's one worker: a swap while the model is busy for seconds does not wait for it; the new run
    captures at once and is analysed by the same model; a file run after it uses the same model too."""
    import time

    from tests.conftest import PARITY_DIR

    settings.window_s, settings.hop_s = 1.0, 0.5
    model = ScriptedModel(seconds=0.0)
    loads = []
    win = make_window(loader=lambda request: loads.append(request) or model)
    win.controller.model.load("/models/scripted", "cpu", "float32")
    qtbot.waitUntil(lambda: not win.showing_model_setup, timeout=10000)
    model.seconds = 3.0  # from now on every model step takes 3 s and cannot be interrupted
    started = []
    win.controller.bridge.window_started.connect(lambda w: started.append(w.id))
    win.use_source(source_choice("synthetic"))
    win.start_monitoring()
    qtbot.waitUntil(lambda: bool(started), timeout=10000)  # the model is inside a 3 s step now
    first = win.controller.session
    t = time.perf_counter()
    win.use_source(source_choice("demo"))
    assert time.perf_counter() - t < 0.1  # returns at once
    qtbot.waitUntil(lambda: win.controller.session not in (None, first), timeout=2000)  # not after the step
    shown = win.video.frames_shown
    qtbot.waitUntil(lambda: win.video.frames_shown > shown + 5, timeout=2000)  # capturing while the model works
    model.seconds = 0.0
    qtbot.waitUntil(lambda: len(win._results) >= 1, timeout=15000)  # the same model analyses the new run
    win.analyze_file(str(PARITY_DIR / "clips" / "clip_a.mp4"))  # 3 s: every window of it, then monitoring ends
    qtbot.waitUntil(lambda: win.controller.analyzing_file, timeout=5000)
    qtbot.waitUntil(lambda: not win.controller.monitoring, timeout=30000)
    assert "Analysed every window of clip_a.mp4: 5 of 5 windows" in " ".join(m for _, m in win.banner.history)
    assert len(loads) == 1 and win.controller.model.worker.loads == 1


def _every_window_of_the_demo(qtbot, make_window, settings, seconds_per_window: float) -> MainWindow:
    """A window with a scripted model that takes ``seconds_per_window``, analysing every 2 s window (1 s hop)
    of the demo clip."""
    from core.sources import DEMO_CLIP

    settings.window_s, settings.hop_s = 2.0, 1.0
    win = make_window(loader=lambda request: ScriptedModel(seconds=seconds_per_window))
    win.controller.model.load("/models/scripted", "cpu", "float32")
    qtbot.waitUntil(lambda: not win.showing_model_setup, timeout=10000)
    win.analyze_file(str(DEMO_CLIP))
    return win


def test_stopping_an_every_window_run_ends_it_cleanly(qtbot, make_window, settings):
    win = _every_window_of_the_demo(qtbot, make_window, settings, 0.4)
    qtbot.waitUntil(lambda: len(win._results) >= 2, timeout=30000)
    win.controller.stop_monitoring()  # Space
    assert not win.controller.analyzing_file
    qtbot.waitUntil(lambda: not win.controller.tasks.busy, timeout=10000)  # the file run's task has ended
    qtbot.wait(500)
    assert len(win._results) < 11
    assert not any("Analysed every window" in m for _, m in win.banner.history)


def test_the_theme_switches_while_the_app_runs(qtbot, make_window, settings):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from desktop import theme as themes

    app = QApplication.instance()
    themes.apply(app, themes.DARK)
    win = make_window()
    dark, light = themes.theme(themes.DARK), themes.theme(themes.LIGHT)
    assert dark.muted in win.reasoning.header.styleSheet()
    win._set_theme(themes.LIGHT)
    try:
        assert settings.theme == themes.LIGHT and themes.current(app) == light
        assert app.palette().color(QPalette.ColorRole.Window).name() == light.window
        # style sheets baked at construction follow, role by role
        assert light.muted in win.reasoning.header.styleSheet() and dark.muted not in win.reasoning.header.styleSheet()
        assert light.muted in win.timeline._hint.styleSheet()
        # plots: background, axes and the items drawn with theme pens
        view = win.timeline._graphics
        assert view.backgroundBrush().color().name() == light.panel
        assert win.timeline.lane_plot.getAxis("left").pen().color().name() == light.muted
        assert win.timeline._now_lines[0].pen.color().name() == light.accent
        assert win.video._graphics.backgroundBrush().color().name() == "#000000"  # the picture stays on black
    finally:
        themes.switch(app, themes.DARK)
    assert win.timeline._graphics.backgroundBrush().color().name() == dark.panel
    assert dark.muted in win.reasoning.header.styleSheet()


def test_new_windows_during_an_every_window_run_start_the_file_over(qtbot, make_window, settings):
    win = _every_window_of_the_demo(qtbot, make_window, settings, 0.3)
    qtbot.waitUntil(lambda: len(win._results) >= 1, timeout=30000)
    win.controller.set_window_hop(4.0, 2.0)
    assert win.controller.analyzing_file  # still every window, now of 4 s every 2 s
    qtbot.waitUntil(lambda: not win.controller.monitoring, timeout=60000)
    assert [r.t1 for _, r in sorted(win._results.items())] == [4.0, 6.0, 8.0, 10.0, 12.0]


def test_connect_remote_probes_the_keyring_off_the_ui_thread_and_keeps_one_address(qtbot, make_window, monkeypatch):
    from core.serve import credentials

    probed_on: list[str] = []

    def no_keyring():
        probed_on.append(threading.current_thread().name)
        return None  # the 0600 file

    monkeypatch.setattr(credentials, "_usable_keyring", no_keyring)
    win = make_window()
    loaded = []
    monkeypatch.setattr(win.controller.model, "load_remote", loaded.append)
    win.connect_remote("https://127.0.0.1", "t" * 32)  # written as on the command line, without the port
    qtbot.waitUntil(lambda: bool(loaded), timeout=5000)
    assert probed_on and all(name.startswith("desktop-task") for name in probed_on)
    # the setting and the stored token use the address as the dialog writes it
    assert loaded[0].url == win.settings.remote_url == "https://127.0.0.1:443"
    assert credentials.TokenStore(win.settings.target().parent, False).load("https://127.0.0.1:443") == "t" * 32


def test_device_dtype_and_profile_choices_are_remembered(qtbot, make_window, monkeypatch):
    win = make_window()
    reloads = []
    monkeypatch.setattr(win, "load_model", lambda: reloads.append(True))
    ab = win.analysis_bar
    ab.device_chosen.emit("cpu")
    ab.dtype_chosen.emit("float32")
    ab.profile_chosen.emit("fast")
    assert (win.settings.device, win.settings.dtype, win.settings.profile) == ("cpu", "float32", "fast")
    assert not reloads  # no model loaded: nothing to load again
