"""A camera that disappears mid-run: simulated at the source (an injected capture object) and for real (the
ffmpeg stream behind cv2.VideoCapture is killed and started again)."""

import numpy as np
import pytest

from core.capture import ERROR, RUNNING, CameraSource
from core.capture import camera as camera_mod
from core.ring_buffer import LiveBuffer
from tests.capture.helpers import Events, wait_for


class FakeCapture:
    """cv2.VideoCapture stand-in: delivers ``frames`` frames, then read() fails like an unplugged V4L2 device."""

    def __init__(self, frames):
        self.left = frames

    def isOpened(self):
        return True

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.zeros((48, 64, 3), np.uint8)

    def get(self, prop):
        return 30.0 if prop == 5 else 0.0  # CAP_PROP_FPS

    def set(self, prop, value):
        return True

    def release(self):
        pass


class Opener:
    def __init__(self, plan):
        self.plan = list(plan)  # per open: number of frames, or None = open fails

    def __call__(self, target):
        frames = self.plan.pop(0) if self.plan else 10**9
        return FakeCapture(frames) if frames is not None else _Closed()


class _Closed(FakeCapture):
    def __init__(self):
        super().__init__(0)

    def isOpened(self):
        return False


def test_unplugged_camera_reports_then_reconnects(monkeypatch):
    monkeypatch.setattr(camera_mod, "RECONNECT_PERIOD_S", 0.05)
    buf = LiveBuffer()
    src = CameraSource(3, opener=Opener([5, None, None, 50]))
    events = Events(src)
    src.start(buf)
    assert wait_for(lambda: "reconnected" in events.kinds, timeout=5), events.kinds
    assert wait_for(lambda: src.status().frames >= 55, timeout=5)
    src.stop()
    assert events.kinds[:3] == ["started", "error", "reconnected"]
    assert "camera 3 stopped delivering frames" in events.messages("error")[0]
    assert src.status().reconnects == 1


def test_unplugged_camera_without_reconnect_stays_in_error():
    src = CameraSource(3, reconnect=False, opener=Opener([5]))
    src.start(LiveBuffer())
    assert src.join(5)
    assert src.status().state == ERROR and src.status().frames == 5
    assert "unplugged" in src.status().message


@pytest.mark.slow
def test_stream_camera_goes_away_and_comes_back(ffmpeg_stream):
    stream = ffmpeg_stream(size=(160, 120), fps=15)
    buf = LiveBuffer()
    src = CameraSource(stream.url)
    events = Events(src)
    src.start(buf)
    assert wait_for(lambda: src.status().frames >= 10, timeout=10)
    stream.stop()  # the camera goes away
    assert wait_for(lambda: src.status().state == ERROR, timeout=10), src.status()
    assert "stopped delivering frames" in src.status().message
    frames_at_loss = src.status().frames
    stream.start()  # ... and comes back on the same address
    assert wait_for(
        lambda: src.status().state == RUNNING and src.status().frames > frames_at_loss + 10, timeout=15
    ), (src.status(), events.kinds)
    src.stop()
    assert events.kinds[:3] == ["started", "error", "reconnected"]
