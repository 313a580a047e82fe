"""Replay helpers without Qt: the frame pump and the audio feeder (with a stand-in output stream)."""

from __future__ import annotations

import sys
import time
import types

import numpy as np
import pytest

from core.session import RecordOptions, SessionWriter
from core.session.playback import AudioFeeder, FramePump, _load_evidence, load_replay
from tests.session import synth
from tests.support.waits import wait_for


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    d = tmp_path_factory.mktemp("pb") / "s"
    w = SessionWriter(d, synth.manifest(), RecordOptions())
    w.start()
    synth.feed(w, 0.0, 4.0)
    w.write_result(synth.result(0, 1.0, 3.0), synth.window(0, 1.0, 3.0))
    w.stop()
    return d


def test_frame_pump_serves_the_newest_request_and_evidence(session):
    from core.session import SessionReader

    pump = FramePump(session)
    try:
        for t in (0.5, 3.2, 1.1):  # only the newest matters
            pump.request(t)
        assert wait_for(lambda: pump.latest() is not None and pump.latest()[0] == 1.1)
        req, ft, rgb = pump.latest()
        assert ft <= 1.1 < ft + 1.5 / synth.FPS and synth.brightness_time(rgb) == pytest.approx(ft, abs=0.06)
        w = SessionReader(session).windows[0]
        pump.request_evidence(w)
        assert wait_for(lambda: pump.latest_evidence() is not None)
        ev = pump.latest_evidence()
        assert ev.frames.shape[0] == 8 and ev.audio_covered == 1.0 and len(ev.audio) == 32000
    finally:
        pump.stop()


def test_load_replay_finds_the_media_and_the_span_once(session, tmp_path):
    from core.session import SessionReader

    data = load_replay(session, audio_output=lambda: False)
    assert data.has_video and data.has_audio and data.span == SessionReader(session).span
    assert data.span[0] <= 0.0 and data.span[1] >= 3.0
    # recorded without audio: has_audio is false, and a window's evidence carries no audio
    d = tmp_path / "mute"
    w = SessionWriter(d, synth.manifest(), RecordOptions(record_audio=False))
    w.start()
    synth.feed(w, 0.0, 2.0)
    w.write_result(synth.result(0, 0.5, 1.5), synth.window(0, 0.5, 1.5))
    w.stop()
    mute = load_replay(d, audio_output=lambda: True)
    assert mute.has_video and not mute.has_audio and not mute.audio_output
    r = SessionReader(d)
    ev = _load_evidence(r, r.logged_windows[0])
    assert ev.audio is None and ev.audio_covered == 0.0 and ev.frames.shape[0] > 0


def test_audio_feeder_plays_the_recording_from_the_position(session, monkeypatch):
    streams = []

    class FakeStream:
        def __init__(self, samplerate, channels, dtype, callback):
            assert (samplerate, channels, dtype) == (16000, 1, "float32")
            self.callback = callback
            streams.append(self)

        def start(self):
            pass

        def stop(self):
            pass

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(OutputStream=FakeStream))
    feeder = AudioFeeder(session)
    assert feeder.start(2.0)
    out = np.zeros((512, 1), np.float32)
    got = []
    deadline = time.monotonic() + 5
    while sum(len(g) for g in got) < 8000 and time.monotonic() < deadline:
        if feeder._q.qsize() == 0:  # let the feeder thread read ahead, as the device's buffer would
            time.sleep(0.005)
            continue
        streams[0].callback(out, 512, None, None)
        got.append(out[:, 0].copy())
    feeder.stop()
    played = np.concatenate(got)[:8000]
    np.testing.assert_allclose(played, synth.tone(2.0, 8000), atol=2e-4)


def test_audio_feeder_without_a_device_says_video_only(session, monkeypatch):
    def no_device(**_kw):
        raise OSError("no default output device")

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(OutputStream=no_device))
    feeder = AudioFeeder(session)
    assert not feeder.start(0.0) and "video only" in feeder.error
