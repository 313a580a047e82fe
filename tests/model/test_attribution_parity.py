"""Acceptance: attributing a window with the tiny parity model re-runs it on the official video-only path.

The parity clip goes through the worker as a live window (audio-visual: the ``va_raw`` tokens), then its
attribution re-runs the kept model frames without audio: exactly the tokens of the official ``--modal video`` run
recorded in case ``v_raw``, and of ``analyze(..., modal="video")`` on the whole clip."""

from __future__ import annotations

import threading

import numpy as np

from core.backend import LoadRequest
from core.engine import AnalysisParams, InferenceWorker, WindowListener
from core.scheduler import Mailbox
from core.window import Window
from tests.conftest import PARITY_DIR


class _Kept:
    """The session's parity model, lent to a worker that must not close it."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def close(self):
        pass


class _Listener(WindowListener):
    def __init__(self):
        self.result = None
        self.attribution = None
        self.got_result, self.got_attribution = threading.Event(), threading.Event()

    def result_ready(self, result, window):
        self.result = result
        self.got_result.set()

    def attribution_ready(self, window_id, attribution):
        self.attribution = attribution
        self.got_attribution.set()

    def attribution_failed(self, window_id, message):
        raise AssertionError(message)


def test_attribution_gives_the_official_video_only_tokens(parity_model, manifest, clip_a):
    cases = manifest["cases"]
    refs = {}
    for name in ("va_raw", "v_raw"):
        with np.load(PARITY_DIR / cases[name]["npz"]) as z:
            refs[name] = z["gen_ids"].tolist()
            picked = tuple(z["frame_indices"].tolist())
    n = len(refs["v_raw"])
    params = AnalysisParams(instruction=cases["v_raw"]["instruct"], label_set="free", max_new_tokens=n,
                            scores=False)
    worker = InferenceWorker(loader=lambda req: _Kept(parity_model), params=params, face_check=False)
    worker.start()
    try:
        worker.load(LoadRequest("parity", warm_up=False))
        assert worker.wait_for_model(timeout=60)
        listener, mailbox = _Listener(), Mailbox()
        attachment = worker.attach(mailbox, listener)
        frames = clip_a["frames"]
        mailbox.put(Window(1, 0.0, 3.0, frames, np.linspace(0, 3, len(frames)), clip_a["audio"].astype(np.float32)))
        assert listener.got_result.wait(120)
        assert list(listener.result.analysis.token_ids) == refs["va_raw"]
        assert listener.result.frame_indices == picked  # 3 8 14 19 25 30 36 41 of the 45 frames

        assert worker.attribute_window(attachment, 1)
        assert listener.got_attribution.wait(120)
        a = listener.attribution
    finally:
        assert worker.stop(timeout=30)
    assert a.video_only.modal == "video"
    assert list(a.video_only.token_ids) == refs["v_raw"]
    direct = parity_model.analyze(frames, None, params.instruction, max_new_tokens=n, modal="video")
    assert a.video_only.token_ids == direct.token_ids
    assert a.audio_visual_text == listener.result.analysis.text and a.seconds > 0
