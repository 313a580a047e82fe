"""LiveSession end to end with a synthetic source and a scripted model: windows, results, recording, shutdown."""

from __future__ import annotations

import functools
import threading
import time

import pytest

from core.capture.synthetic import SyntheticSource
from core.engine import AnalysisParams, InferenceWorker, LoadRequest, ModelListener
from core.pipeline import EveryWindowError, LiveSession, SessionListener
from core.session.reader import SessionReader
from tests.core.test_engine import ScriptedModel
from tests.support.waits import wait_for


class Collect(SessionListener, ModelListener):
    def __init__(self):
        self.results, self.errors, self.events, self.recordings = [], [], [], []
        self.cancelled = []
        self.loaded = threading.Event()

    def model_loaded(self, info):
        self.loaded.set()

    def window_cancelled(self, window):
        self.cancelled.append(window.id)

    def result_ready(self, result, window):
        self.results.append((result, window))

    def error(self, message):
        self.errors.append(message)

    def source_event(self, event):
        self.events.append(event.kind)

    def recording_stopped(self, directory, error):
        self.recordings.append((directory, error))


def loaded_worker(model, params=None, warm_up=True, listener=None):
    """An inference worker with ``model`` loaded (the app's or a command's one model owner)."""
    loads = []

    def loader(req):
        loads.append(req)
        return model

    rec = listener or Collect()
    worker = InferenceWorker(rec, params=params, loader=loader)
    worker.start()
    worker.load(LoadRequest("scripted", warm_up=warm_up))
    assert worker.wait_for_model(timeout=10)
    worker.loads_seen = loads
    return worker


_wait = functools.partial(wait_for, timeout=15.0, period=0.02)  # a window of the tiny model on 2 busy cores


def test_live_session_analyses_windows_and_records_them(tmp_path):
    before = {t.name for t in threading.enumerate()}
    src = SyntheticSource(width=160, height=120, fps=15, audio="tone", audio_rate_hz=16_000, channels=1)
    model = ScriptedModel(token_delay_s=0.01)
    rec = Collect()
    worker = loaded_worker(model, AnalysisParams(max_new_tokens=8))
    s = LiveSession(src, src, rec, window_s=1.0, hop_s=0.5, worker=worker)
    s.start()
    assert s.start_recording(str(tmp_path / "bundle"))
    assert _wait(lambda: len(rec.results) >= 3)
    t_before = s.clock.now()
    marker = s.add_marker("event", "laughs")
    t_after = s.clock.now()
    assert s.stop() and worker.stop()
    assert rec.errors == [] and "started" in rec.events

    results = [r for r, _ in rec.results]
    for r, w in rec.results:
        assert abs((r.t1 - r.t0) - 1.0) < 1e-6 and r.finished_at >= r.t1
        assert w.frames.shape[1:] == (120, 160, 3) and w.audio_status == "ok"
    # windows are cut on a hop grid and the worker always takes the newest
    assert [r.window_id for r in results] == sorted({r.window_id for r in results})

    reader = SessionReader(tmp_path / "bundle")
    assert reader.manifest.model_dir.endswith("scripted") and reader.manifest.window_s == 1.0
    assert reader.manifest.generation["max_new_tokens"] == 8 and reader.manifest.generation["device"] == "cpu"
    logged = reader.windows
    assert [w["window_id"] for w in logged] == [r.window_id for r in results]
    logged_marker = reader.markers[0]
    assert logged_marker["text"] == "laughs" and t_before <= logged_marker["t"] <= t_after
    assert marker["t"] == logged_marker["t"] and marker["type"] == "marker"  # the caller's copy stays whole
    assert rec.recordings and rec.recordings[-1][1] is None
    leftover = {t.name for t in threading.enumerate()} - before
    assert not {"inference-worker", "scheduler", "session-log", "session-media"} & leftover, leftover


def test_unwritable_recording_folder_keeps_monitoring(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    src = SyntheticSource(width=64, height=48, fps=10, audio=None)
    rec = Collect()
    worker = loaded_worker(ScriptedModel())
    s = LiveSession(src, None, rec, window_s=1.0, hop_s=0.5, worker=worker)
    s.start()
    assert not s.start_recording(str(blocker / "bundle"))
    assert rec.recordings and rec.recordings[0][1]  # the reason reaches the listener
    assert _wait(lambda: len(rec.results) >= 1)
    assert s.stop() and worker.stop()
    assert rec.results[0][0].audio_status == "missing" and rec.results[0][0].analysis.modal == "video"


def test_every_window_of_a_file_is_analysed_however_slow_the_model(tmp_path):
    """The demo clip (12 s) with 2 s windows every 1 s and a model that takes 0.25 s per window plus the face
    check: in real time most windows would be superseded; here every one is analysed, in order, with complete
    data, and recorded."""
    from core.capture.media_file import MediaFileSource
    from core.clock import FakeClock
    from core.sources import DEMO_CLIP

    model = ScriptedModel(token_delay_s=0.06)  # 4 tokens: ~0.25 s a window
    rec = Collect()
    source = MediaFileSource(DEMO_CLIP, realtime=True)
    worker = loaded_worker(model, AnalysisParams(max_new_tokens=8), warm_up=False)
    session = LiveSession(source, source, rec, window_s=2.0, hop_s=1.0, clock=FakeClock(), worker=worker)
    assert session.start_recording(str(tmp_path / "rec"))
    started = time.monotonic()
    cut = session.analyze_every_window()
    assert session.stop() and worker.stop()
    assert time.monotonic() - started < 60
    results = [r for r, _ in rec.results]
    assert cut == len(results) == 11  # t1 = 2, 3, ..., 12
    assert session.file_shorter_than_a_window() is None
    assert [r.window_id for r in results] == list(range(11))
    assert [r.t1 for r in results] == [float(t) for t in range(2, 13)]
    assert session.scheduler.stats().superseded == 0 and session.scheduler.stats().skipped_behind == 0
    for result, window in rec.results:
        assert window.frame_times[0] >= window.t0 - 0.2 and window.frame_times[-1] >= window.t1 - 0.2
        assert len(window.frames) >= 12  # 2 s kept at 8 fps
        assert result.audio_status in ("ok", "partial") and window.audio is not None
    assert [r.audio_status for r in results[:-1]] == ["ok"] * 10
    assert not rec.errors
    logged = [w["window_id"] for w in SessionReader(tmp_path / "rec").windows]
    assert logged == list(range(11))


def test_every_window_refuses_a_real_clock_and_a_missing_model():
    from core.clock import FakeClock

    live = LiveSession(SyntheticSource(), None, Collect())
    with pytest.raises(ValueError, match="SteppedClock"):
        live.analyze_every_window()
    no_model = LiveSession(SyntheticSource(), None, Collect(), clock=FakeClock())
    with pytest.raises(EveryWindowError, match="load a model first"):
        no_model.analyze_every_window()
    worker = InferenceWorker()
    worker.start()
    unloaded = LiveSession(SyntheticSource(), None, Collect(), clock=FakeClock(), worker=worker)
    with pytest.raises(EveryWindowError, match="load a model first"):
        unloaded.analyze_every_window()
    assert live.stop() and no_model.stop() and unloaded.stop() and worker.stop()


def test_a_file_shorter_than_one_window_cuts_none_and_says_how_long_it_is():
    from core.capture.media_file import MediaFileSource
    from core.clock import FakeClock
    from tests.conftest import PARITY_DIR

    rec = Collect()
    source = MediaFileSource(PARITY_DIR / "clips" / "clip_a.mp4", realtime=True)  # 3 s
    worker = loaded_worker(ScriptedModel(), warm_up=False)
    session = LiveSession(source, source, rec, window_s=4.0, hop_s=2.0, clock=FakeClock(), worker=worker)
    assert session.analyze_every_window() == 0
    assert session.stop() and worker.stop()
    assert session.file_shorter_than_a_window() == 3.0


def _synthetic():
    return SyntheticSource(width=96, height=72, fps=15, audio="tone", audio_rate_hz=16_000, channels=1)


def test_one_model_serves_two_sessions_and_a_file_run_without_a_reload():
    """The app's one worker loads once; live sessions and an every-window file run attach to it in turn."""
    from core.capture.media_file import MediaFileSource
    from core.clock import FakeClock
    from tests.conftest import PARITY_DIR

    model = ScriptedModel()
    worker = loaded_worker(model, warm_up=False)
    for _ in range(2):
        rec = Collect()
        session = LiveSession(_synthetic(), None, rec, window_s=1.0, hop_s=0.5, worker=worker)
        session.start()
        assert _wait(lambda rec=rec: len(rec.results) >= 2)
        assert session.stop()
    rec = Collect()
    source = MediaFileSource(PARITY_DIR / "clips" / "clip_a.mp4", realtime=True)  # 3 s
    run = LiveSession(source, source, rec, window_s=1.0, hop_s=1.0, clock=FakeClock(), worker=worker)
    assert run.analyze_every_window() == len(rec.results) == 3
    assert run.stop()
    assert len(worker.loads_seen) == 1 and worker.loads == 1 and not model.closed
    assert worker.stop() and model.closed


def test_stopping_a_session_during_a_long_model_step_returns_at_once():
    """Detaching never waits for the model: the window in flight is cancelled at its next token, and the next
    session gets the same model straight away."""
    model = ScriptedModel(token_delay_s=1.0)  # 4 tokens: a 4 s model step
    worker = loaded_worker(model, warm_up=False)
    first = Collect()
    started = threading.Event()
    first.window_started = lambda window: started.set()
    session = LiveSession(_synthetic(), None, first, window_s=1.0, hop_s=0.5, worker=worker)
    session.start()
    assert started.wait(10)
    t = time.perf_counter()
    assert session.stop()
    assert time.perf_counter() - t < 0.5  # capture and scheduler only; the model is not waited for
    assert _wait(lambda: first.cancelled, timeout=2.0)  # at the next token (<= 1 s)
    assert first.results == []
    model.token_delay_s = 0.01
    second = Collect()
    after = LiveSession(_synthetic(), None, second, window_s=1.0, hop_s=0.5, worker=worker)
    after.start()
    assert _wait(lambda: len(second.results) >= 1)
    assert after.stop() and worker.loads == 1
    assert worker.stop()


def test_stopping_with_a_model_step_in_flight_ends_in_order_within_a_second_of_the_next_token(tmp_path):
    before = {t.name for t in threading.enumerate()}
    model = ScriptedModel(token_delay_s=0.8)
    worker = loaded_worker(model, warm_up=False)
    rec = Collect()
    started = threading.Event()
    rec.window_started = lambda window: started.set()
    session = LiveSession(_synthetic(), _synthetic(), rec, window_s=1.0, hop_s=0.5, worker=worker)
    session.start()
    assert session.start_recording(str(tmp_path / "bundle"))
    assert started.wait(10)
    order = []
    for name, owner, attr in (("capture", session.video, "stop"), ("scheduler", session.scheduler, "stop"),
                              ("worker", worker, "stop"), ("writer", session.writer, "stop")):
        setattr(owner, attr, _spy(order, name, getattr(owner, attr)))
    t = time.perf_counter()
    assert session.stop_capture() and worker.stop(timeout=5) and session.stop_recording()
    assert time.perf_counter() - t < 0.8 + 1.0  # the next token comes within 0.8 s; then it all ends
    assert order == ["capture", "scheduler", "worker", "writer"]
    assert model.closed
    leftover = {t.name for t in threading.enumerate()} - before
    assert not [n for n in leftover if n.startswith(("inference-worker", "scheduler", "face-check", "capture-",
                                                     "session-"))], leftover


def _spy(order: list[str], name: str, fn):
    """``fn`` that first notes ``name`` in ``order``."""
    def spied(*a, **kw):
        order.append(name)
        return fn(*a, **kw)

    return spied
