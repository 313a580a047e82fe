"""A source that needs no hardware: moving shapes and a tone or chirp, at device-like rates.

It goes through the same code path as the devices: frames are pushed from a grab-like loop, audio is written as
device-rate blocks into a ``BlockRing`` (as a PortAudio callback would) and drained through the same
``AudioConverter``. Used by tests, the demo, the capture benchmark and running without a camera or microphone.

Two ways to drive it:
- ``start(sink)``: its own thread paces it on the sink's clock (real time with ``SessionClock``).
- ``open(sink)`` then ``pump(until_t)`` from the caller's thread: produces everything due up to ``until_t``; with a
  ``FakeClock`` this runs an hour of capture in a minute (the benchmark does this).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.capture.audio_path import AudioConverter, BlockRing, drain
from core.capture.base import ENDED, EV_ENDED, EV_STARTED, RUNNING, CaptureSink, SourceBase, SourceError

AUDIO_MODES = ("tone", "chirp", "silence", None)
TONE_HZ = 440  # integer, so a 1 s table is exactly periodic
CHIRP_LOW_HZ, CHIRP_HIGH_HZ, CHIRP_PERIOD_S = 200.0, 2000.0, 2.0
LEVEL = 0.3  # amplitude of the synthetic sound (about -10 dBFS)
MIN_SLEEP_S = 0.001  # the paced thread never spins


def _audio_table(mode: str, rate_hz: int, channels: int) -> np.ndarray:
    """One period of the synthetic sound, float32 [n, channels]."""
    if mode == "tone":
        t = np.arange(rate_hz) / rate_hz
        mono = LEVEL * np.sin(2 * np.pi * TONE_HZ * t)
    elif mode == "chirp":
        t = np.arange(int(CHIRP_PERIOD_S * rate_hz)) / rate_hz
        k = (CHIRP_HIGH_HZ - CHIRP_LOW_HZ) / CHIRP_PERIOD_S
        mono = LEVEL * np.sin(2 * np.pi * (CHIRP_LOW_HZ * t + 0.5 * k * t * t))
    else:
        mono = np.zeros(rate_hz)
    return np.repeat(mono.astype(np.float32)[:, None], channels, axis=1)


class SyntheticSource(SourceBase):
    """Moving shapes at ``width``x``height`` @ ``fps`` and a tone/chirp at ``audio_rate_hz`` x ``channels``.

    ``video=False`` or ``audio=None`` leaves a stream out; ``duration_s`` makes it end (state ``ended``).
    ``frame_pool=N`` renders N frames once and cycles through them (read-only, shared), so long accelerated runs
    measure the capture path rather than the drawing.
    """

    kind = "synthetic"

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        audio: str | None = "tone",
        audio_rate_hz: int = 48_000,
        channels: int = 2,
        block_s: float = 0.02,
        video: bool = True,
        duration_s: float | None = None,
        frame_pool: int = 0,
        name: str = "synthetic",
    ) -> None:
        super().__init__(name)
        if audio not in AUDIO_MODES:
            raise ValueError(f"audio must be one of {AUDIO_MODES}, got {audio!r}")
        if fps <= 0 or width <= 0 or height <= 0:
            raise ValueError("synthetic video needs positive width, height and fps")
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.audio_mode = audio
        self.audio_rate_hz = int(audio_rate_hz)
        self.channels = int(channels)
        self.block_frames = max(1, round(block_s * audio_rate_hz))
        self.has_video = bool(video)
        self.has_audio = audio is not None
        self.duration_s = duration_s
        self._background = self._make_background()
        self._pool = [self._render(i) for i in range(frame_pool)]
        for f in self._pool:
            f.setflags(write=False)
        self._table = _audio_table(audio, self.audio_rate_hz, self.channels) if audio else None
        self._ring: BlockRing | None = None
        self._converter: AudioConverter | None = None
        self._t_base = 0.0
        self._frame_i = 0
        self._audio_i = 0  # absolute device-rate frames produced

    def _make_background(self) -> np.ndarray:
        ramp_x = np.linspace(40, 120, self.width, dtype=np.float32)
        ramp_y = np.linspace(0, 60, self.height, dtype=np.float32)
        bg = np.empty((self.height, self.width, 3), np.uint8)
        bg[..., 0] = (ramp_y[:, None] + ramp_x[None, :] * 0.5).astype(np.uint8)
        bg[..., 1] = ramp_x[None, :].astype(np.uint8)
        bg[..., 2] = 90
        return bg

    def frame_at(self, i: int) -> np.ndarray:
        """Frame ``i``: uint8 [H, W, 3] RGB with a circle and a square moving on a gradient (a new array, or a
        shared read-only one from the pool)."""
        if self._pool:
            return self._pool[i % len(self._pool)]
        return self._render(i)

    def _render(self, i: int) -> np.ndarray:
        frame = self._background.copy()
        phase = 2 * math.pi * i / (self.fps * 4.0)
        r = max(4, min(self.width, self.height) // 8)
        cx = int(self.width / 2 + self.width / 3 * math.cos(phase))
        cy = int(self.height / 2 + self.height / 3 * math.sin(phase))
        cv2.circle(frame, (cx, cy), r, (230, 200, 40), -1)
        sx = int((i * 4) % max(1, self.width - r))
        cv2.rectangle(frame, (sx, self.height - 2 * r), (sx + r, self.height - r), (30, 160, 230), -1)
        return frame

    # -- driving ------------------------------------------------------------------------------------------------

    def open(self, sink: CaptureSink) -> None:
        """Attach to ``sink`` without a thread; the caller then calls ``pump``."""
        self._sink = sink
        self._t_base = sink.clock.now()
        self._frame_i = 0
        self._audio_i = 0
        if self.has_audio:
            self._ring = BlockRing(self.audio_rate_hz, self.channels)
            self._converter = AudioConverter(self.audio_rate_hz)
            self._audio_rate = self.audio_rate_hz
            sink.set_source_info(
                "audio",
                f"{self.name} {self.audio_mode} {self.audio_rate_hz} Hz x{self.channels} -> 16 kHz mono",
            )
        if self.has_video:
            sink.set_source_info("video", f"{self.name} {self.width}x{self.height} @ {self.fps:g} fps")
        self._set_state(RUNNING, "running")
        self._emit(EV_STARTED, "started")

    def pump(self, until_t: float) -> bool:
        """Produce every frame and audio block due by session time ``until_t``; returns False once ended."""
        sink = self._sink
        if sink is None:
            raise SourceError(f"{self.name}: call open(sink) or start(sink) before pump()")
        end_t = until_t if self.duration_s is None else min(until_t, self._t_base + self.duration_s)
        if self.has_video:
            while self._t_base + self._frame_i / self.fps <= end_t:
                t = self._t_base + self._frame_i / self.fps
                sink.push_frame(self.frame_at(self._frame_i), t)
                self._count_frame(t, self.fps)
                self._frame_i += 1
        if self._table is not None and self._ring is not None and self._converter is not None:
            bf = self.block_frames
            while self._t_base + (self._audio_i + bf) / self.audio_rate_hz <= end_t + 1e-9:
                i = self._audio_i % len(self._table)
                if i + bf <= len(self._table):
                    block = self._table[i : i + bf]
                else:
                    block = np.concatenate([self._table[i:], self._table[: bf - (len(self._table) - i)]])
                self._ring.write(block, self._t_base + self._audio_i / self.audio_rate_hz)
                self._audio_i += bf
            self._audio_samples += drain(self._ring, self._converter, sink)
            self._overflows = self._ring.overruns
        if self.duration_s is not None and until_t >= self._t_base + self.duration_s:
            self._set_state(ENDED, "reached its duration")
            self._emit(EV_ENDED, "reached its duration")
            return False
        return True

    def _run(self) -> None:
        assert self._sink is not None
        self.open(self._sink)
        clock = self._sink.clock
        while not self._stop.is_set():
            if not self.pump(clock.now()):
                return
            if not self._pace(max(self.next_due(), clock.now() + MIN_SLEEP_S)):
                return

    def next_due(self) -> float:
        """Session time of the next frame or audio block (what a paced thread sleeps until)."""
        due = []
        if self.has_video:
            due.append(self._t_base + self._frame_i / self.fps)
        if self._table is not None:
            due.append(self._t_base + (self._audio_i + self.block_frames) / self.audio_rate_hz)
        return min(due) if due else self._t_base + (self.duration_s or 0.0)
