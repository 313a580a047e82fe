"""The Mic box names the microphone in use and stays available for a stream URL; the evidence strip shows as
many frames as the model saw (16 for a checkpoint whose config says so)."""

from __future__ import annotations

import dataclasses

from desktop.controls import DEFAULT_MIC, SOURCE_FILE, MonitorToolBar, SourceChoice
from desktop.evidence_store import evidence_copy
from desktop.evidence_view import EvidenceView
from tests.desktop.conftest import make_result, make_window
from tests.desktop.test_main_window import make_window as main_window  # noqa: F401 — fixture
from tests.desktop.test_main_window import settings  # noqa: F401 — fixture


def test_the_default_input_is_named(qtbot):
    bar = MonitorToolBar()
    qtbot.addWidget(bar)
    bar.set_microphones([(0, "pulse", False), ("pulse:alsa_input.usb", "USB Microphone", True)], DEFAULT_MIC)
    assert bar.mic_combo.currentText() == "Default input: USB Microphone"
    items = [bar.mic_combo.itemText(i) for i in range(bar.mic_combo.count())]
    assert "USB Microphone (default)" in items
    assert bar.mic_combo.itemData(items.index("USB Microphone (default)")) == "pulse:alsa_input.usb"


def test_a_stream_keeps_the_microphone_and_a_file_brings_its_audio(qtbot, main_window, monkeypatch):  # noqa: F811
    from desktop import live_controller

    monkeypatch.setattr(live_controller, "list_devices", lambda: ([], [("pulse:usb", "USB Microphone", True)]))
    win = main_window()
    qtbot.waitUntil(lambda: win._devices is not None, timeout=5000)
    win.controller.source_choice = SourceChoice(SOURCE_FILE, "rtsp://127.0.0.1:8554/cam", "rtsp://127.0.0.1:8554/cam")
    win._rebuild_pickers()
    assert win.monitor_bar.mic_combo.isEnabled()
    assert win.monitor_bar.mic_combo.currentText() == "Default input: USB Microphone"
    win.controller.source_choice = SourceChoice(SOURCE_FILE, "/tmp/interview.mp4", "interview.mp4")
    win._rebuild_pickers()
    assert not win.monitor_bar.mic_combo.isEnabled()
    assert win.monitor_bar.mic_combo.currentText() == "audio from the source"


def test_the_evidence_strip_follows_the_frame_count(qtbot):
    view = EvidenceView()
    qtbot.addWidget(view)
    window = make_window(1, 0.0, 4.0, fps=10.0)  # 40 frames
    for count in (16, 8):
        seen = tuple(int(i) for i in range(0, 40, 40 // count))[:count]
        result = dataclasses.replace(make_result(1, 0.0, 4.0), frame_indices=seen)
        view.show_window(result, evidence_copy(window, seen))
        assert len(view.thumbs) == count and len(view._pixmaps) == count
        assert f"The {count} frames the model saw (sampled uniformly from the 40 frames" in view._frames_title.text()
        view.show_window(result, window)  # a full window: the result's indices pick the frames
        assert len(view._pixmaps) == count
