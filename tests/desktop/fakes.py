"""Devices that can be unplugged on demand, behind the real capture sources' injection points."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import ClassVar

import numpy as np

CAP_PROP_FPS = 5  # cv2.CAP_PROP_FPS
_NO_OVERFLOW = SimpleNamespace(input_overflow=False)  # sounddevice's CallbackFlags, as far as read


class FakeCapture:
    """A ``cv2.VideoCapture`` stand-in: ``frames`` frames at 30 fps, then ``read()`` fails (unplugged)."""

    def __init__(self, frames: int) -> None:
        self.left = frames
        self._clock = threading.Event()

    def isOpened(self) -> bool:
        return True

    def read(self):
        self._clock.wait(1 / 30)  # a device paces itself
        if self.left <= 0:
            return False, None
        self.left -= 1
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[:, : (self.left * 7) % 320] = 200
        return True, frame

    def get(self, prop: int) -> float:
        return 30.0 if prop == CAP_PROP_FPS else 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        pass


class UnpluggableCamera:
    """Opener for ``CameraSource(opener=...)``: delivers until ``unplug()``; reopening fails afterwards."""

    def __init__(self) -> None:
        self.plugged = True
        self.current: FakeCapture | None = None

    def __call__(self, target):
        if not self.plugged:
            cap = FakeCapture(0)
            cap.isOpened = lambda: False
            return cap
        self.current = FakeCapture(10**9)
        return self.current

    def unplug(self) -> None:
        self.plugged = False
        if self.current is not None:
            self.current.left = 0


class FakeStream:
    """A ``sounddevice.InputStream`` stand-in calling back 20 ms blocks of a 440 Hz tone until unplugged."""

    instances: ClassVar[list[FakeStream]] = []
    plugged = True

    def __init__(self, *, samplerate, channels, blocksize, callback, **_):
        if not FakeStream.plugged:
            raise OSError("device unavailable")
        self.rate, self.channels, self.blocksize, self.callback = samplerate, channels, blocksize, callback
        self.active = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-mic", daemon=True)
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def _run(self) -> None:
        n, k = self.blocksize, 0
        while not self._stop.wait(n / self.rate):
            if not FakeStream.plugged:
                self.active = False
                return
            t = (np.arange(n) + k * n) / self.rate
            block = np.repeat(
                (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], self.channels, 1
            )
            self.callback(block, n, None, _NO_OVERFLOW)
            k += 1

    def abort(self) -> None:
        self._stop.set()
        self.active = False

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(1)
