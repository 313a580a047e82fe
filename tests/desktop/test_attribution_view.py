"""What did the voice add, in the window: the evidence view's comparison and consistency flags, and the whole path
from the button through the worker to the view in the real main window (scripted model)."""

from __future__ import annotations

import numpy as np
import pytest

from core.attribution import AttributionInputs, compare
from core.engine import AnalysisParams
from core.results import AnalysisResult
from desktop.evidence_view import EvidenceView
from desktop.reasoning_panel import ReasoningPanel
from desktop.voice_panel import DONE, FAILED, NOT_YET, QUEUED, UNAVAILABLE, AttributionStatus
from tests.desktop.conftest import make_result, make_window
from tests.desktop.fakes import ScriptedModel


def _attribution(result, video_label="fear"):
    vo = AnalysisResult((1,), f"<think>The face is tense.</think><answer>{video_label}</answer>",
                        "The face is tense.", video_label, video_label, "ok", "dfew", "video",
                        {**dict(result.analysis.scores), video_label: 0.9}, {"total": 2.5})
    inputs = AttributionInputs(result.window_id, result.t0, result.t1, result.wall_t0,
                               np.zeros((8, 4, 4, 3), np.uint8), AnalysisParams(), result.analysis)
    return compare(inputs, vo, seconds=2.5)


def test_evidence_view_shows_the_comparison_and_its_cost(qtbot):
    view = EvidenceView()
    qtbot.addWidget(view)
    result = make_result(4, 8.0, 12.0, label="angry", think="He shouts and his face is red; he is angry.")
    view.show_window(result, make_window(4, 8.0, 12.0))
    assert not view.voice.isHidden()
    assert "not compared without the voice yet" in view.voice.text.text() and not view.voice.button.isHidden()
    with qtbot.waitSignal(view.attribution_requested) as asked:
        view.voice.button.click()
    assert asked.args == [4]

    view.show_attribution(AttributionStatus(QUEUED, waited=2))
    shown = view.voice.text.text()
    assert "live windows go first" in shown and "gave way to live windows 2 times" in shown
    assert view.voice.button.isHidden()

    view.show_attribution(AttributionStatus(DONE, _attribution(result)))
    voice = view.voice.text.text()
    assert "the voice changed" in voice and "fear" in voice and "angry" in voice and "2.50 s" in voice
    assert "largest score shift fear -0.71" in voice  # fear 0.9 without the voice, 2/10.5 with it
    details = view.details.toPlainText()
    assert "What did the voice add?" in details and "score shift per label" in details
    assert "Reasoning without the voice" in details and "The face is tense." in details
    assert "video-only re-run: 2.50 s" in details

    view.show_attribution(AttributionStatus(FAILED, message="The video-only run of window 4 failed: boom"))
    assert "boom" in view.voice.text.text() and view.voice.button.text() == "Try again"
    view.show_attribution(AttributionStatus(UNAVAILABLE, message="frames are no longer kept"))
    assert "no longer kept" in view.voice.text.text() and view.voice.button.isHidden()


def test_same_label_says_what_the_voice_kept(qtbot):
    view = EvidenceView()
    qtbot.addWidget(view)
    result = make_result(2, 0.0, 4.0, label="happy")
    view.show_window(result, None, attribution=AttributionStatus(DONE, _attribution(result, video_label="happy")))
    text = view.voice.text.text()
    assert "the voice kept" in text and "the reasoning changed" in text and "largest score shift" in text


def test_consistency_flags_stand_next_to_the_answer(qtbot):
    view, panel = EvidenceView(), ReasoningPanel()
    qtbot.addWidget(view)
    qtbot.addWidget(panel)
    result = make_result(1, 0.0, 4.0, label="happy", think="She is not happy; she looks sad.")
    view.show_window(result, None)
    assert "answer disagrees with the reasoning" in view.header.text()
    details = view.details.toPlainText()
    assert "the reasoning concludes sad" in details and "the answer is happy" in details
    panel.result_ready(result)
    assert "answer disagrees with the reasoning" in panel.answer.text()
    row = panel.history.item(0)
    assert "⚠" in row.text() and "the reasoning concludes sad" in row.toolTip()
    fine = make_result(2, 4.0, 8.0, label="happy", think="She smiles; she is happy.")
    view.show_window(fine, None)
    assert "answer disagrees" not in view.header.text() and "no check failed" in view.details.toPlainText()


@pytest.mark.slow
def test_a_window_is_attributed_from_the_evidence_view(qtbot, tmp_path, settings, monkeypatch):
    from desktop.live_controller import LiveController
    from desktop.main_window import MainWindow
    from desktop.startup import source_choice

    settings.auto_attribution = "off"
    controller = LiveController(settings, loader=lambda request: ScriptedModel(seconds=0.05))
    win = MainWindow(settings, controller)
    qtbot.addWidget(win)
    win.show()
    try:
        controller.model.load("/models/scripted", "cpu", "float32")
        qtbot.waitUntil(lambda: controller.model.has_model, timeout=10000)
        win.use_source(source_choice("demo"))
        win.start_monitoring()
        qtbot.waitUntil(lambda: len(win._results) >= 2, timeout=30000)
        win.stop_monitoring()
        wid = max(win._results)
        win.select_window(wid)
        assert win.evidence.window_id == wid and win.attribution_status(wid).state == NOT_YET
        win.evidence.voice.button.click()
        qtbot.waitUntil(lambda: win.attribution_status(wid).state == DONE, timeout=10000)
        a = win.attribution_status(wid).attribution
        assert a.window_id == wid and a.video_only.modal == "video"
        assert "the voice changed" in win.evidence.voice.text.text()
        assert "What did the voice add?" in win.evidence.details.toPlainText()
        # a window that was never analysed cannot be attributed, and says why
        win._results[10_000] = win._results[wid]
        win.request_attribution(10_000)
        assert win.attribution_status(10_000).state == UNAVAILABLE
        assert "no longer kept" in win.attribution_status(10_000).message
        # the automatic setting reaches the worker
        win._set_auto_attribution("on")
        assert settings.auto_attribution == "on" and controller.model.worker.auto_attribution
    finally:
        win.close()


@pytest.fixture
def settings(tmp_path, monkeypatch):
    from core.settings import Settings

    monkeypatch.setenv("R1OMNI_LIVE_CONFIG_DIR", str(tmp_path / "config"))
    s = Settings.load(tmp_path / "config" / "settings.json")
    s.record_dir = str(tmp_path / "sessions")
    s.camera = None
    return s


@pytest.mark.slow
@pytest.mark.xvfb
def test_screenshot_of_an_attributed_window_under_xvfb(tmp_path):
    """The real window on an X display: the comparison is painted (tests/desktop/attribution_shot.py)."""
    import os
    import subprocess
    import sys

    from PIL import Image

    from tests.conftest import ROOT
    from tests.support.xvfb import XvfbDisplay, xvfb_available

    if not xvfb_available():
        pytest.skip("Xvfb not installed: apt-get install xvfb xauth")
    shot = tmp_path / "attributed.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "R1OMNI_LIVE_CONFIG_DIR": str(tmp_path / "config")}
    with XvfbDisplay() as display:
        env["DISPLAY"] = display
        proc = subprocess.run([sys.executable, "-m", "tests.desktop.attribution_shot", str(shot)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().startswith("the voice changed")
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[1] >= 1000 and len(np.unique(image.reshape(-1, 3)[::97], axis=0)) > 200
