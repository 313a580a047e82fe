"""Attribution: the comparison values, and the worker's second queue — on demand, automatic, yielding to live
windows, cancellable — with a scripted model whose answer depends on whether it hears audio."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core.attribution import (
    AUTO_GPU,
    AUTO_ON,
    Attribution,
    AttributionInputs,
    KeptInputs,
    auto_enabled,
    compare,
)
from core.engine import AnalysisParams, InferenceWorker, LoadRequest, WindowListener
from core.results import OK, AnalysisResult
from core.scheduler import Mailbox
from core.window import Window


def _analysis(label, scores=None, modal="video_audio", text=None):
    text = text or f"<think>{label} face</think><answer>{label}</answer>"
    return AnalysisResult((1, 2), text, f"{label} face", label, label, OK, "dfew", modal, scores, {"total": 0.1})


class VoiceModel:
    """Answers ``angry`` when it hears audio and ``fear`` when it does not; one token per ``token_delay_s``."""

    def __init__(self, token_delay_s=0.0):
        self.token_delay_s = token_delay_s
        self.calls = []  # (frames, audio is None, instruction, max_new_tokens, label_set, scores)
        self.closed = False

    def info(self):
        return {"model_dir": "voice", "device": "cpu"}

    def close(self):
        self.closed = True

    def analyze(self, frames, audio, instruction, max_new_tokens, on_token=None, label_set="dfew", scores=False,
                should_stop=None, modal=None):
        self.calls.append((np.array(frames), audio is None, instruction, max_new_tokens, label_set, scores))
        label = "fear" if audio is None else "angry"
        for piece in ("<think>", "a face", "</think>", f"<answer>{label}</answer>"):
            if should_stop and should_stop():
                from core.model.errors import AnalysisCancelled

                raise AnalysisCancelled(None)
            time.sleep(self.token_delay_s)
            if on_token:
                on_token(piece)
        sc = {"angry": 0.7, "fear": 0.3} if audio is not None else {"angry": 0.2, "fear": 0.8}
        return _analysis(label, sc if scores else None, "video" if audio is None else "video_audio")


class Events(WindowListener):
    def __init__(self):
        self.log = []
        self.results = []
        self.attributions = {}
        self.changed = threading.Condition()

    def _add(self, *event):
        with self.changed:
            self.log.append(event)
            self.changed.notify_all()

    def window_started(self, window):
        self._add("window_started", window.id)

    def result_ready(self, result, window):
        self.results.append(result)
        self._add("result", result.window_id)

    def attribution_started(self, window_id):
        self._add("attribution_started", window_id)

    def attribution_ready(self, window_id, attribution):
        self.attributions[window_id] = attribution
        self._add("attribution", window_id)

    def attribution_failed(self, window_id, message):
        self._add("attribution_failed", window_id, message)

    def attribution_cancelled(self, window_id):
        self._add("attribution_cancelled", window_id)

    def attribution_yielded(self, window_id):
        self._add("attribution_yielded", window_id)

    def wait_for(self, event, timeout=5.0):
        with self.changed:
            return self.changed.wait_for(lambda: event in self.log, timeout)


def _window(i, n_frames=12):
    frames = np.stack([np.full((6, 8, 3), 10 * k + i, np.uint8) for k in range(n_frames)])
    return Window(i, 2.0 * i, 2.0 * i + 4.0, frames, np.linspace(2.0 * i, 2.0 * i + 4, n_frames),
                  np.zeros(16_000, np.float32), wall_t0=1000.0 + 2 * i)


def _worker(model, params=None):
    w = InferenceWorker(loader=lambda req: model, params=params, face_check=False)
    w.start()
    w.load(LoadRequest("voice", warm_up=False))
    assert w.wait_for_model(timeout=5)
    return w


# ---- the values ------------------------------------------------------------------------------------------------
def _inputs(av, window_id=3):
    return AttributionInputs(window_id, 6.0, 10.0, 1234.5, np.zeros((8, 4, 4, 3), np.uint8), AnalysisParams(), av)


def test_comparison_names_what_the_voice_changed():
    a = compare(_inputs(_analysis("angry", {"angry": 0.7, "fear": 0.3})),
                _analysis("fear", {"angry": 0.2, "fear": 0.8}, "video"), seconds=1.5)
    assert a.summary() == "the voice changed fear → angry"
    assert a.label_changed and a.video_only_label == "fear"
    assert a.score_shift == pytest.approx({"angry": 0.5, "fear": -0.5})
    assert a.largest_shift()[0] in ("angry", "fear") and abs(a.largest_shift()[1]) == pytest.approx(0.5)
    kept = compare(_inputs(_analysis("sad")), _analysis("sad", modal="video", text="<answer>sad</answer>"), 1.0)
    assert kept.summary() == "the voice kept sad; the reasoning changed" and kept.score_shift is None
    same = compare(_inputs(_analysis("sad")), _analysis("sad", modal="video"), 1.0)
    assert same.summary() == "the voice changed nothing" and not same.text_changed
    unparsed = compare(_inputs(_analysis("sad")), AnalysisResult((), "hmm", None, None, None, "no_answer", "dfew",
                                                                 "video"), 1.0)
    assert unparsed.summary() == "the voice changed (no label) → sad"


def test_logged_form_round_trips_and_bad_records_are_refused():
    a = compare(_inputs(_analysis("angry", {"angry": 0.7, "fear": 0.3})),
                _analysis("fear", {"angry": 0.2, "fear": 0.8}, "video"), seconds=1.5)
    d = a.to_dict()
    assert d["summary"] == "the voice changed fear → angry" and d["video_only"]["modal"] == "video"
    assert d["score_shift"] == pytest.approx({"angry": 0.5, "fear": -0.5}) and d["seconds"] == 1.5
    back = Attribution.from_dict(d)
    assert back == a and back.matches(3, 6.0, 1234.5) and not back.matches(3, 6.0, 99.0)
    with pytest.raises(ValueError, match="not an attribution record"):
        Attribution.from_dict({"window_id": 1})
    with pytest.raises(ValueError):
        Attribution.from_dict({**d, "t0": "soon"})


def test_kept_inputs_are_bounded_private_copies():
    kept = KeptInputs(2)
    frames = np.zeros((8, 4, 4, 3), np.uint8)
    for i in range(3):
        kept.add(AttributionInputs(i, 0.0, 1.0, 0.0, frames, AnalysisParams(), _analysis("sad")))
    assert len(kept) == 2 and kept.get(0) is None and kept.get(2) is not None
    frames[:] = 9
    assert kept.get(2).frames.max() == 0 and not kept.get(2).frames.flags.writeable
    with pytest.raises(ValueError, match="K >= 1"):
        AttributionInputs(0, 0, 1, 0, np.zeros((0, 4, 4, 3), np.uint8), AnalysisParams(), _analysis("sad"))


def test_automatic_attribution_setting():
    assert auto_enabled(AUTO_GPU, "cuda:0") and not auto_enabled(AUTO_GPU, "cpu")
    assert auto_enabled(AUTO_ON, "cpu") and not auto_enabled("off", "cuda")
    with pytest.raises(ValueError, match="use one of"):
        auto_enabled("sometimes", "cpu")


# ---- the worker ------------------------------------------------------------------------------------------------
def test_on_demand_attribution_reruns_the_model_frames_video_only_with_the_same_question():
    model = VoiceModel()
    params = AnalysisParams(instruction="Which emotion?", label_set="dfew", max_new_tokens=33, scores=True)
    w = _worker(model, params)
    ev, mailbox = Events(), Mailbox()
    att = w.attach(mailbox, ev)
    mailbox.put(_window(5))
    assert ev.wait_for(("result", 5))
    w.set_params(AnalysisParams(instruction="Another question?"))  # later windows only: not the kept one's
    assert w.attribute_window(att, 5)
    assert ev.wait_for(("attribution", 5))
    a = ev.attributions[5]
    assert a.summary() == "the voice changed fear → angry" and a.score_shift == pytest.approx(
        {"angry": 0.5, "fear": -0.5})
    av_call, v_call = model.calls
    assert v_call[1] is True and av_call[1] is False  # the re-run heard nothing, the window did
    # the re-run got exactly the frames the model saw (the window's 12 frames sampled down to 8)
    assert np.array_equal(v_call[0], _window(5).frames[list(ev.results[0].frame_indices)])
    assert v_call[2:] == ("Which emotion?", 33, "dfew", True)
    assert a.seconds > 0 and att.stats().attributed == 1 and att.stats().last_attribution_s == a.seconds
    assert w.stop()


def test_only_the_newest_windows_are_kept():
    w = _worker(VoiceModel())
    w.keep_windows = 2
    ev, mailbox = Events(), Mailbox()
    att = w.attach(mailbox, ev)
    for i in range(3):
        mailbox.put(_window(i))
        assert ev.wait_for(("result", i))
    assert not w.attribute_window(att, 0)
    assert w.attribute_window(att, 2)
    assert ev.wait_for(("attribution", 2))
    assert w.stop()


def test_a_live_window_goes_first_and_the_attribution_runs_again_after_it():
    model = VoiceModel(token_delay_s=0.15)
    w = _worker(model)
    ev, mailbox = Events(), Mailbox()
    att = w.attach(mailbox, ev)
    mailbox.put(_window(1))
    assert ev.wait_for(("result", 1))
    assert w.attribute_window(att, 1)
    assert ev.wait_for(("attribution_started", 1))
    time.sleep(0.2)  # the re-run is generating
    arrived = time.perf_counter()
    mailbox.put(_window(2))
    assert ev.wait_for(("window_started", 2))
    waited = time.perf_counter() - arrived
    assert ev.wait_for(("attribution", 1), timeout=10)
    order = [e for e in ev.log if e[0] != "result"]
    assert order == [("window_started", 1), ("attribution_started", 1), ("attribution_yielded", 1),
                     ("window_started", 2), ("attribution_started", 1), ("attribution", 1)]
    # the window waited at most for the re-run's next stop check (one token here), not for the whole re-run
    assert waited < 0.15 + 0.25
    assert att.stats().attributions_yielded == 1 and att.stats().attributed == 1
    assert w.stop()


def test_automatic_attribution_uses_spare_time_only():
    model = VoiceModel()
    w = _worker(model)
    w.set_auto_attribution(AUTO_GPU)  # the scripted model says cpu: off
    ev, mailbox = Events(), Mailbox()
    w.attach(mailbox, ev)
    mailbox.put(_window(1))
    assert ev.wait_for(("result", 1))
    time.sleep(0.3)
    assert "attribution_started" not in [e[0] for e in ev.log] and not w.auto_attribution
    w.set_auto_attribution(AUTO_ON)
    assert w.auto_attribution
    for i in (2, 3):
        mailbox.put(_window(i))
        assert ev.wait_for(("attribution", i))
    assert sorted(ev.attributions) == [2, 3]
    with pytest.raises(ValueError, match="use one of"):
        w.set_auto_attribution("maybe")
    assert w.stop()


def test_cancelling_drops_queued_and_stops_running_requests():
    model = VoiceModel(token_delay_s=0.2)
    w = _worker(model)
    ev, mailbox = Events(), Mailbox()
    att = w.attach(mailbox, ev)
    for i in (1, 2):
        mailbox.put(_window(i))
        assert ev.wait_for(("result", i), timeout=10)
    assert w.attribute_window(att, 1) and w.attribute_window(att, 2)  # 2 is asked last: it runs first
    assert ev.wait_for(("attribution_started", 2))
    t = time.perf_counter()
    w.cancel_attributions(ev)
    assert ev.wait_for(("attribution_cancelled", 2))
    assert time.perf_counter() - t < 0.2 + 0.2  # at the next token
    assert ("attribution_cancelled", 1) in ev.log and not ev.attributions
    assert w.pending_attributions() == 0
    assert w.stop()


def test_another_model_drops_queued_attributions():
    model = VoiceModel(token_delay_s=0.1)
    w = _worker(model)
    ev, mailbox = Events(), Mailbox()
    att = w.attach(mailbox, ev)
    for i in (1, 2):
        mailbox.put(_window(i))
        assert ev.wait_for(("result", i), timeout=10)
    w.detach(att)
    assert w.attribute_window(att, 1) and w.attribute_window(att, 2)
    assert ev.wait_for(("attribution_started", 2))
    w.load(LoadRequest("voice", "cpu", "bfloat16", warm_up=False))  # another precision: another model
    assert ev.wait_for(("attribution_cancelled", 1)) and ev.wait_for(("attribution_cancelled", 2))
    assert w.wait_for_model(timeout=5) and not ev.attributions
    assert w.stop()


def test_requests_from_outside_a_session_are_served_without_one():
    """Replay asks with inputs read from a bundle and its own listener; no attachment is needed."""
    model = VoiceModel()
    w = _worker(model)
    ev = Events()
    inputs = _inputs(_analysis("angry"), window_id=9)
    w.attribute(inputs, ev)
    assert ev.wait_for(("attribution", 9))
    assert ev.attributions[9].summary() == "the voice changed fear → angry"
    assert w.stats().attributed == 1
    assert w.stop()


def test_a_failed_rerun_is_reported_and_the_worker_goes_on():
    class Broken(VoiceModel):
        def analyze(self, frames, audio, *a, **k):
            if audio is None:
                raise RuntimeError("video tower exploded")
            return super().analyze(frames, audio, *a, **k)

    w = _worker(Broken())
    ev = Events()
    w.attribute(_inputs(_analysis("angry"), window_id=4), ev)
    assert ev.wait_for(("attribution_failed", 4, "The video-only run of window 4 failed: video tower exploded"))
    mailbox = Mailbox()
    w.attach(mailbox, ev)
    mailbox.put(_window(5))
    assert ev.wait_for(("result", 5))
    assert w.stop()


@pytest.mark.parametrize("change", [
    {"window_id": -1}, {"window_id": True}, {"t0": float("nan")}, {"t1": "1"}, {"seconds": 1e300},
    {"audio_visual": []}, {"video_only": {"token_ids": ["a"]}}, {"video_only": {"scores": {"angry": "high"}}},
    {"video_only": {"label": "x" * 1000}}, {"audio_visual": {"text": 5}},
])
def test_a_hostile_logged_attribution_is_refused(change):
    a = compare(_inputs(_analysis("angry", {"angry": 0.7})), _analysis("fear", {"angry": 0.2}, "video"), 1.0)
    with pytest.raises(ValueError, match="not an attribution record"):
        Attribution.from_dict({**a.to_dict(), **change})
