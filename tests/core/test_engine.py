"""The inference worker with a scripted model: results, streaming, errors, cancellation, shutdown."""

from __future__ import annotations

import queue
import threading
import time

import numpy as np
import pytest

from core.engine import AnalysisParams, InferenceWorker, LoadRequest, ModelListener, WindowListener, resolve_instruction
from core.results import OK, AnalysisResult
from core.window import AUDIO_MISSING, Window


class QueueWindows:
    """Minimal window source for the worker (the real one is the scheduler's mailbox)."""

    def __init__(self):
        self.q: queue.Queue = queue.Queue()

    def get(self, timeout=None):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None


class Recorder(ModelListener, WindowListener):
    def __init__(self):
        self.events = []
        self.results = []
        self.errors = []
        self.warnings = []
        self.tokens = []
        self.loaded = threading.Event()
        self.got_result = threading.Event()

    def model_loaded(self, info):
        self.events.append(("loaded", info))
        self.loaded.set()

    def model_unloaded(self):
        self.events.append(("unloaded",))

    def token_streamed(self, window_id, text):
        self.tokens.append((window_id, text))

    def result_ready(self, result, window):
        self.results.append(result)
        self.got_result.set()

    def error(self, message):
        self.errors.append(message)
        self.got_result.set()

    def window_failed(self, window, message):
        self.error(message)

    def warning(self, message):
        self.warnings.append(message)


class ScriptedModel:
    """Stands in for core.model's model: same analyze() signature, scripted behaviour."""

    def __init__(self, fail=None, token_delay_s=0.0):
        self.fail = fail
        self.token_delay_s = token_delay_s
        self.calls = []
        self.closed = False

    def info(self):
        return {"model_dir": "scripted", "device": "cpu"}

    def close(self):
        self.closed = True

    def analyze(self, frames, audio, instruction, max_new_tokens, on_token=None, label_set="dfew",
                scores=False, should_stop=None, modal=None):
        self.calls.append((frames.shape, None if audio is None else audio.shape, max_new_tokens))
        if self.fail and max_new_tokens > 1:
            raise self.fail
        pieces = ["<think>", "calm face", "</think>", "<answer>neutral</answer>"][:max_new_tokens]
        for p in pieces:
            if should_stop and should_stop():
                break
            time.sleep(self.token_delay_s)
            if on_token:
                on_token(p)
        text = "".join(pieces)
        return AnalysisResult((1, 2, 3), text, "calm face", "neutral", "neutral", OK, label_set,
                              "video" if audio is None else "video_audio", None, {"decode": 0.01})


def _window(i, audio_status="ok"):
    audio = None if audio_status == AUDIO_MISSING else np.zeros(32_000, np.float32)
    return Window(i, 2.0 * i, 2.0 * i + 4.0, np.zeros((3, 8, 8, 3), np.uint8), [0, 1, 2], audio, audio_status)


def _worker(model, rec, windows):
    w = InferenceWorker(rec, loader=lambda req: model)
    w.start()
    w.load(LoadRequest("scripted"))
    assert rec.loaded.wait(5)
    w.attach(windows, rec, clock=lambda: 100.0)
    return w


def test_windows_become_results_with_streamed_tokens():
    rec, windows, model = Recorder(), QueueWindows(), ScriptedModel()
    w = _worker(model, rec, windows)
    windows.q.put(_window(7))
    assert rec.got_result.wait(5)
    assert w.stop()
    r = rec.results[0]
    assert (r.window_id, r.t0, r.t1, r.finished_at, r.analysis.label) == (7, 14.0, 18.0, 100.0, "neutral")
    assert "".join(t for wid, t in rec.tokens if wid == 7) == r.analysis.text
    assert model.calls[0][0] == (8, 224, 224, 3)  # warm-up ran first
    assert model.closed and rec.events[-1] == ("unloaded",)


def test_missing_audio_goes_video_only_and_warns_once():
    rec, windows, model = Recorder(), QueueWindows(), ScriptedModel()
    w = _worker(model, rec, windows)
    windows.q.put(_window(1, AUDIO_MISSING))
    windows.q.put(_window(2, AUDIO_MISSING))
    deadline = time.time() + 5
    while len(rec.results) < 2 and time.time() < deadline:
        time.sleep(0.01)
    w.stop()
    assert [r.analysis.modal for r in rec.results] == ["video", "video"]
    assert len([m for m in rec.warnings if "video only" in m]) == 1


def test_out_of_memory_is_reported_and_the_worker_keeps_going():
    class OutOfMemoryError(RuntimeError):
        pass

    rec, windows = Recorder(), QueueWindows()
    model = ScriptedModel(fail=OutOfMemoryError("CUDA out of memory"))
    w = _worker(model, rec, windows)
    windows.q.put(_window(1))
    assert rec.got_result.wait(5)
    assert "Out of memory" in rec.errors[0] and "float16" in rec.errors[0]
    rec.got_result.clear()
    model.fail = None
    windows.q.put(_window(2))
    assert rec.got_result.wait(5)
    w.stop()
    assert [r.window_id for r in rec.results] == [2] and w.stats().failed == 1


def test_load_failure_is_an_error_not_a_crash():
    rec = Recorder()

    def broken(req):
        raise FileNotFoundError(f"model folder {req.model_dir} does not exist")

    w = InferenceWorker(rec, loader=broken)
    w.start()
    w.load(LoadRequest("/nope"))
    assert rec.got_result.wait(5)
    assert w.stop()
    assert "does not exist" in rec.errors[0] and not w.has_model


def test_stop_cancels_a_long_generation_promptly():
    rec, windows = Recorder(), QueueWindows()
    model = ScriptedModel(token_delay_s=0.5)
    w = _worker(model, rec, windows)
    windows.q.put(_window(1))
    time.sleep(0.3)
    t = time.perf_counter()
    assert w.stop(timeout=5)
    assert time.perf_counter() - t < 1.5
    assert rec.results == []  # a cancelled window is not a result


def test_params_validate_and_presets_resolve():
    with pytest.raises(ValueError, match="unknown label set"):
        AnalysisParams(label_set="emotions")
    with pytest.raises(ValueError, match="empty"):
        resolve_instruction("custom", " ")
    assert "<answer>" in resolve_instruction("official")


def test_results_say_how_many_faces_the_model_saw():
    from core.clip_decode import read_clip
    from core.sources import DEMO_CLIP

    face = read_clip(DEMO_CLIP).frames[100]
    two = np.concatenate([face, face], axis=1)
    rec, windows, model = Recorder(), QueueWindows(), ScriptedModel()
    w = _worker(model, rec, windows)
    for i, picture in enumerate((face, two, np.zeros_like(face))):
        frames = np.stack([picture] * 12)
        windows.q.put(Window(i, 2.0 * i, 2.0 * i + 4.0, frames, np.linspace(0, 4, 12), np.zeros(64_000, np.float32)))
    deadline = time.time() + 10
    while len(rec.results) < 3 and time.time() < deadline:
        time.sleep(0.01)
    w.stop()
    assert [r.faces for r in rec.results] == [(1,) * 8, (2,) * 8, (0,) * 8]
    assert [r.face_check.status for r in rec.results] == ["one", "several", "none"]
    assert rec.results[1].to_dict()["faces"] == [2] * 8


def test_stats_cross_threads_as_snapshots_and_completions_wake_waiters():
    rec, windows, model = Recorder(), QueueWindows(), ScriptedModel(token_delay_s=0.05)
    w = InferenceWorker(rec, loader=lambda req: model)
    w.start()
    w.load(LoadRequest("scripted", warm_up=False))
    assert w.wait_for_model(timeout=5)
    attachment = w.attach(windows, rec, clock=lambda: 100.0)
    before = attachment.stats()
    windows.q.put(_window(1))
    assert attachment.wait_completed(0, timeout=5)  # woken by the completion, not by a timeout
    after = attachment.stats()
    assert (before.analysed, after.analysed) == (0, 1)  # the earlier snapshot did not change under us
    with pytest.raises(AttributeError):
        after.analysed = 5  # frozen
    assert after.last_first_token_s is not None and 0 < after.last_first_token_s <= after.last_compute_s
    assert w.stats().analysed == 1 and rec.results[0].frame_indices == (0, 0, 1, 1, 1, 1, 2, 2)
    assert w.stop()


def test_asking_again_for_the_loaded_model_keeps_it():
    rec, model, loads = Recorder(), ScriptedModel(), []
    w = InferenceWorker(rec, loader=lambda req: loads.append(req) or model)
    w.start()
    w.load(LoadRequest("scripted", "cpu", "float32", warm_up=False))
    assert w.wait_for_model(timeout=5)
    w.load(LoadRequest("scripted", "cpu", "float32", warm_up=False))
    assert w.wait_for_model(timeout=5)
    assert len(loads) == 1 and w.loads == 1 and not model.closed
    assert [e[0] for e in rec.events] == ["loaded", "loaded"]  # the window hears it is ready again
    w.load(LoadRequest("scripted", "cpu", "bfloat16", warm_up=False))  # another precision: a real reload
    assert w.wait_for_model(timeout=5)
    assert len(loads) == 2 and model.closed is True
    assert w.stop()


def test_detaching_cancels_only_that_attachment_and_a_new_one_is_served():
    rec, model = Recorder(), ScriptedModel(token_delay_s=0.3)
    w = InferenceWorker(rec, loader=lambda req: model)
    w.start()
    w.load(LoadRequest("scripted", warm_up=False))
    assert w.wait_for_model(timeout=5)
    first_windows, first = QueueWindows(), Recorder()
    cancelled = []
    first.window_cancelled = lambda window: cancelled.append(window.id)
    att = w.attach(first_windows, first)
    first_windows.q.put(_window(1))
    time.sleep(0.2)
    t = time.perf_counter()
    w.detach(att)
    assert time.perf_counter() - t < 0.05 and att.detached
    assert not att.wait_completed(0, timeout=2)  # a detached attachment's waiters stop waiting at once
    deadline = time.time() + 2
    while att.stats().cancelled < 1 and time.time() < deadline:
        time.sleep(0.01)
    assert att.stats().cancelled == 1 and cancelled == [1] and first.results == []
    second_windows, second = QueueWindows(), Recorder()
    w.attach(second_windows, second)
    model.token_delay_s = 0.0
    second_windows.q.put(_window(2))
    assert second.got_result.wait(5) and [r.window_id for r in second.results] == [2]
    assert w.stop()
