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


class ScriptedModel:
    """A stand-in for ``core.model.R1OmniModel`` (same ``analyze`` contract): streams a fixed reasoning
    token by token and answers the next label of ``labels``; the calls listed in ``fail_on`` raise
    ``fail_with`` instead (e.g. an out-of-memory error)."""

    def __init__(self, labels=("happy", "sad", "angry"), fail_on=(), fail_with=None, seconds=0.0) -> None:
        self.labels = labels
        self.seconds = seconds  # time each window takes (a slow model)
        self.fail_on = set(fail_on)
        self.fail_with = fail_with or RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.calls = 0

    def analyze(
        self,
        frames,
        audio,
        instruction,
        max_new_tokens=256,
        on_token=None,
        label_set="dfew",
        modal=None,
        scores=False,
        should_stop=None,
    ):
        from core import labels as core_labels
        from core.results import AnalysisResult, parse_response

        call, self.calls = self.calls, self.calls + 1
        if call in self.fail_on:
            raise self.fail_with
        if self.seconds:
            import time

            time.sleep(self.seconds)
        label = self.labels[call % len(self.labels)]
        pieces = [
            "<think>",
            "The speaker ",
            "looks ",
            f"{label} ",
            "and sounds it.",
            "</think>",
            f"<answer>{label}</answer>",
        ]
        for piece in pieces:
            if on_token is not None:
                on_token(piece)
        text = "".join(pieces)
        names = core_labels.label_set(label_set) or (label,)
        parsed = parse_response(text, core_labels.label_set(label_set))
        sc = {n: (0.7 if n == label else 0.3 / max(len(names) - 1, 1)) for n in names} if scores else None
        return AnalysisResult(
            tuple(range(len(pieces))),
            text,
            parsed.think,
            parsed.answer,
            parsed.label,
            parsed.status,
            label_set,
            "video_audio" if audio is not None else "video",
            sc,
            {"generate": 0.01, "total": 0.02},
        )

    def info(self):
        return {"model_dir": "/models/scripted", "device": "cpu", "dtype": "float32", "params": 1}

    def memory_bytes(self):
        return 123 * 2**20

    def close(self):
        pass
