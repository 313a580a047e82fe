"""Replay shows the attributions recorded with a session, and re-runs a recorded window video-only on demand with
the app's model worker (its kept frames, its question), refusing when that would compare two models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytestmark = pytest.mark.usefixtures("dark_theme")  # the app's theme and Qt guard (tests/conftest.py)

from core.attribution import ATTRIBUTION_EVENT, attribution_of
from core.backend import LoadRequest
from core.engine import InferenceWorker
from core.session import RecordOptions, SessionReader, SessionWriter
from desktop.voice_panel import DONE, UNAVAILABLE
from tests.core.test_attribution import VoiceModel
from tests.session import synth


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    """Three windows with kept PNG frames; window 0 was attributed while recording."""
    d = tmp_path_factory.mktemp("replay-attr") / "s"
    w = SessionWriter(d, synth.manifest(), RecordOptions(frame_format="png"))
    assert w.start()
    synth.feed(w, 0.0, 5.0)
    results = [synth.result(i, 1.5 * i, 1.5 * i + 2.0) for i in range(3)]
    for r in results:
        w.write_result(r, synth.window(r.window_id, r.t0, r.t1))
    vo = replace(results[0].analysis, label="fear", answer="fear", modal="video", text="fear alone")
    w.write_event(ATTRIBUTION_EVENT, **attribution_of(0, results[0].t0, results[0].t1, results[0].wall_t0,
                                                      results[0].analysis, vo, 0.75).to_dict())
    assert w.stop()
    return d


@pytest.fixture
def worker():
    model = VoiceModel()
    w = InferenceWorker(loader=lambda req: model, face_check=False)
    w.start()
    w.load(LoadRequest("voice", warm_up=False))
    assert w.wait_for_model(timeout=5)
    w.model = model
    yield w
    assert w.stop()


def _open(qtbot, path, worker):
    from desktop.replay import ReplayWindow

    win = ReplayWindow(path, worker=worker)
    qtbot.addWidget(win)
    win.show()
    return win


def test_recorded_attribution_is_shown_and_another_window_is_attributed_on_demand(qtbot, session, worker):
    win = _open(qtbot, session, worker)
    win.seek(0.5)
    qtbot.waitUntil(lambda: win.evidence.window_id == 0 and bool(win._kept_frames), timeout=5000)
    assert win.attribution_status(0).state == DONE
    assert "the voice changed" in win.evidence.voice.text.text() and "fear" in win.evidence.voice.text.text()
    assert win.evidence.voice.button.isHidden()

    win.seek(3.2)  # window 2 (3.0-5.0)
    qtbot.waitUntil(lambda: win.evidence.window_id == 2 and 2 in win._kept_frames, timeout=5000)
    assert not win.evidence.voice.button.isHidden()
    win.evidence.voice.button.click()
    qtbot.waitUntil(lambda: win.attribution_status(2).state == DONE, timeout=5000)
    a = win.attribution_status(2).attribution
    assert a.summary() == "the voice changed fear → neutral"  # recorded: neutral; scripted, without audio: fear
    frames, audio_none, instruction, max_new_tokens, label_set, _ = worker.model.calls[-1]
    kept = SessionReader(session).window_frames(2)[1]
    assert audio_none and np.array_equal(frames, kept)  # the frames the recording kept (PNG: exact)
    assert (instruction, max_new_tokens, label_set) == ("What emotion?", 24, "dfew")  # the session's question
    assert "the voice changed" in win.evidence.voice.text.text()


def test_replay_refuses_to_compare_two_models_or_to_run_without_one(qtbot, session, worker):
    win = _open(qtbot, session, worker)
    win.seek(3.2)
    qtbot.waitUntil(lambda: 2 in win._kept_frames, timeout=5000)
    win.reader.manifest = replace(win.reader.manifest, weights_hash="a" * 64)
    worker._model_info = {**worker.model_info, "weights_hash": "b" * 64}
    win.request_attribution(2)
    status = win.attribution_status(2)
    assert status.state == UNAVAILABLE and "not the one that recorded this session" in status.message
    alone = _open(qtbot, session, None)
    alone.seek(3.2)
    qtbot.waitUntil(lambda: 2 in alone._kept_frames, timeout=5000)
    alone.request_attribution(2)
    assert "load the model in the main window" in alone.attribution_status(2).message
