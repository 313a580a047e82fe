"""Fixed-capacity audio and frame rings on the session clock, and the ``LiveBuffer`` the sources push into.

Memory is bounded and stated (``capacity_bytes``): nothing here grows with session length. Counters are absolute
(never wrapped) so a position names one sample or frame for the whole session; an overrun is counted, never fixed by
growing.

What is kept, and why:
- Audio: 16 kHz mono float32 (what the Whisper tower eats) for ``max(AUDIO_MIN_CAPACITY_S, window_s + slack)``
  seconds, in a mirrored ring so any span is one contiguous slice (Friture's trick), plus one validity byte per
  sample so gaps are known and never passed off as silence.
- Frames: the model samples 8 frames uniformly from a window and resizes each to 224x224, so full-resolution 30 fps
  history is waste. The ``FrameRing`` keeps ``FRAMES_KEPT_PER_WINDOW`` (32) frames per window, i.e. 4 candidates per
  sampled frame, at most ``MAX_KEEP_FPS`` (8 fps), each resized to at most ``MAX_SIDE_PX`` (448 px, twice the model's
  input, leaving room for a face crop) on the long side. For the default 4 s window that is 8 fps, 64 frames of
  capacity (8 s), 29 MB for 4:3 video, 39 MB worst case (square). Only the newest full-resolution frame is kept, for
  the preview.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from core.clock import SessionClock
from core.window import (
    AUDIO_MISSING,
    AUDIO_OK,
    AUDIO_PARTIAL,
    AUDIO_SILENT,
    DEFAULT_WINDOW_S,
    MODEL_SAMPLE_RATE_HZ,
    Window,
)

FRAMES_KEPT_PER_WINDOW = 32  # 4 candidates per model frame (the model samples 8)
MAX_KEEP_FPS = 8.0  # frames/s kept for the model; 8 per window even for a 1 s window
MIN_KEEP_FPS = 0.5
MAX_SIDE_PX = 448  # long side of kept frames (model input is 224x224)
FRAME_SLACK_S = 4.0  # frame history beyond one window: scheduler lag + a late cut
AUDIO_MIN_CAPACITY_S = 40.0  # >= 30 s (Whisper's whole input) + slack; also feeds the waveform view
AUDIO_SLACK_S = 10.0
AUDIO_JITTER_TOLERANCE_S = 0.2  # stamp jitter absorbed before a block is treated as a gap or an overlap
# Exact stamps (a file's presentation times) only differ from the sample count by rounding: anything beyond this is
# a real hole or overlap in the stream and is placed as such at once.
AUDIO_EXACT_TOLERANCE_S = 0.001
AUDIO_RESYNC_TOLERANCE_S = 0.04  # a lasting offset above this is corrected (lip-sync is noticed from ~45 ms)
AUDIO_RESYNC_EVERY_S = 1.0  # how much audio the lasting offset is judged over
AUDIO_RESYNC_MIN_BLOCKS = (
    10  # ... and over at least this many blocks (one big block says nothing about jitter)
)
AUDIO_PARTIAL_BELOW = 0.9  # coverage under this fraction of the span -> "partial"
SILENCE_PEAK_DBFS = -50.0  # peak under this (a quiet room with a live mic is louder) -> "silent"


def reduced_shape(height: int, width: int, max_side: int = MAX_SIDE_PX) -> tuple[int, int]:
    """(height, width) scaled so that the long side is at most ``max_side``, aspect kept; never enlarged. The one
    rule for bounding a frame: the frames kept for the model (``FrameRing``) and those a media file delivers live
    (``core.capture.media_file.to_rgb``)."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def keep_fps_for_window(window_s: float) -> float:
    """Frames/s worth keeping for windows of ``window_s`` seconds (bounded to [MIN_KEEP_FPS, MAX_KEEP_FPS])."""
    return float(min(MAX_KEEP_FPS, max(MIN_KEEP_FPS, FRAMES_KEPT_PER_WINDOW / window_s)))


def dbfs(peak: float) -> float:
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


class AudioRing:
    """16 kHz mono float32 samples placed on the session clock. Not thread-safe: ``LiveBuffer`` locks around it.

    Sample ``k`` (absolute, never wrapped) is at session time ``t_origin + k / rate``. A block stamped more than
    ``AUDIO_JITTER_TOLERANCE_S`` later than the end of the data marks the hole as invalid (a gap); a block stamped
    earlier than that overlaps old data and its overlapping head is dropped (counted). Smaller offsets are jitter
    for a single block, but not when they last: every ``AUDIO_RESYNC_EVERY_S`` of audio, if even the earliest-stamped
    block was more than ``AUDIO_RESYNC_TOLERANCE_S`` late (stamps are only ever delayed by jitter, so the minimum is
    the true offset), a gap re-aligns the data; if even the latest was that early, samples are dropped. This keeps
    audio within ~40 ms of the session clock when the device clock drifts or a short stall happens, without ever
    inventing samples.

    Exact stamps (``write(..., exact=True)``: a media file's presentation times, not a callback's arrival time) are
    not jitter: a hole or an overlap of more than ``AUDIO_EXACT_TOLERANCE_S`` is placed at once. Absorbing it as
    jitter would leave the samples (and the ``horizon``) behind their stamps until the next re-alignment, up to a
    second later: a file whose audio has short holes (an AAC file looped with ``ffmpeg -stream_loop`` has a 64 ms hole
    at each seam, its priming samples) then never shows audio up to a time that its paced source has already played.
    """

    def __init__(self, capacity_s: float, rate_hz: int = MODEL_SAMPLE_RATE_HZ) -> None:
        self.rate_hz = rate_hz
        self.capacity = math.ceil(capacity_s * rate_hz)
        # mirrored: every sample is written at i and i + capacity so any span <= capacity is one slice
        self._data = np.zeros(2 * self.capacity, np.float32)
        self._valid = np.zeros(2 * self.capacity, np.uint8)
        self.written = 0  # absolute index of the next sample
        self.t_origin: float | None = None
        self.gaps = 0
        self.gap_samples = 0
        self.dropped_overlap_samples = 0
        self.resyncs = 0  # re-alignments after a lasting small offset (gap inserted or samples dropped)
        self._tol = int(AUDIO_JITTER_TOLERANCE_S * rate_hz)
        self._exact_tol = int(AUDIO_EXACT_TOLERANCE_S * rate_hz)
        self._resync_tol = int(AUDIO_RESYNC_TOLERANCE_S * rate_hz)
        self._resync_every = int(AUDIO_RESYNC_EVERY_S * rate_hz)
        self._reset_offsets()

    def _reset_offsets(self) -> None:
        self._off_min = math.inf
        self._off_max = -math.inf
        self._off_samples = 0
        self._off_blocks = 0

    @property
    def capacity_bytes(self) -> int:
        return self._data.nbytes + self._valid.nbytes

    @property
    def horizon(self) -> float | None:
        """Session time just after the newest sample, or None before any audio."""
        if self.t_origin is None:
            return None
        return self.t_origin + self.written / self.rate_hz

    def index_of(self, t: float) -> int:
        assert self.t_origin is not None
        return round((t - self.t_origin) * self.rate_hz)

    def write(self, samples: np.ndarray, t0: float, exact: bool = False) -> None:
        """samples: float32 [S] mono; t0: session seconds of samples[0]; ``exact``: t0 is the samples' true time
        (a file's presentation time), so a hole or an overlap is placed at once rather than taken for jitter."""
        n = len(samples)
        if n == 0:
            return
        if self.t_origin is None:
            self.t_origin = t0
        k = self.index_of(t0)
        tol = self._exact_tol if exact else self._tol
        drop = 0
        if k > self.written + tol:
            self._mark_gap(k)
            self._reset_offsets()
        elif k < self.written - tol:
            drop = self.written - k
            self._reset_offsets()
        elif not exact:
            offset = k - self.written  # > 0: this block is stamped later than the data's end (samples)
            self._off_min = min(self._off_min, offset)
            self._off_max = max(self._off_max, offset)
            self._off_samples += n
            self._off_blocks += 1
            if self._off_samples >= self._resync_every and self._off_blocks >= AUDIO_RESYNC_MIN_BLOCKS:
                if self._off_min > self._resync_tol:
                    self.resyncs += 1
                    self._mark_gap(self.written + int(self._off_min))
                elif self._off_max < -self._resync_tol:
                    self.resyncs += 1
                    drop = -int(self._off_max)
                self._reset_offsets()
        if drop:
            drop = min(n, drop)
            self.dropped_overlap_samples += drop
            samples = samples[drop:]
            n = len(samples)
            if n == 0:
                return
        self._put(samples, np.uint8(1))

    def _mark_gap(self, k: int) -> None:
        hole = k - self.written
        self.gaps += 1
        self.gap_samples += hole
        if hole >= self.capacity:
            self._data[:] = 0.0
            self._valid[:] = 0
            self.written = k
        else:
            self._put(np.zeros(hole, np.float32), np.uint8(0))

    def _put(self, samples: np.ndarray, valid: np.uint8) -> None:
        cap = self.capacity
        if len(samples) > cap:
            self.written += len(samples) - cap
            samples = samples[-cap:]
        n = len(samples)
        i = self.written % cap
        first = min(n, cap - i)
        for base in (0, cap):
            self._data[base + i : base + i + first] = samples[:first]
            self._valid[base + i : base + i + first] = valid
            if first < n:
                self._data[base : base + n - first] = samples[first:]
                self._valid[base : base + n - first] = valid
        self.written += n

    def read_range(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of samples and validity for absolute indices [k0, k1); positions not held are zeros/invalid."""
        n = max(0, k1 - k0)
        out = np.zeros(n, np.float32)
        ok = np.zeros(n, np.uint8)
        lo = max(k0, self.written - self.capacity, 0)
        hi = min(k1, self.written)
        if hi > lo:
            i = lo % self.capacity
            out[lo - k0 : hi - k0] = self._data[i : i + hi - lo]
            ok[lo - k0 : hi - k0] = self._valid[i : i + hi - lo]
        return out, ok

    def read(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples and validity covering session span [t0, t1): exactly round((t1 - t0) * rate) samples."""
        n = round((t1 - t0) * self.rate_hz)
        if self.t_origin is None:
            return np.zeros(n, np.float32), np.zeros(n, np.uint8)
        k0 = self.index_of(t0)
        return self.read_range(k0, k0 + n)

    def latest(self, seconds: float) -> np.ndarray:
        """The newest ``seconds`` of audio (zeros where there is none), float32 copy."""
        n = round(seconds * self.rate_hz)
        samples, _ = self.read_range(self.written - n, self.written)
        return samples


class FrameRing:
    """Reduced-rate, reduced-size RGB frames with their session times. Not thread-safe (``LiveBuffer`` locks).

    Storage is allocated on the first frame as uint8 [capacity, H, W, 3]; a change of frame size (another camera)
    starts the ring afresh, since one window cannot mix sizes.
    """

    def __init__(self, capacity: int, keep_fps: float, max_side: int = MAX_SIDE_PX) -> None:
        self.capacity = int(capacity)
        self.keep_fps = float(keep_fps)
        self.max_side = int(max_side)
        self._frames: np.ndarray | None = None
        self._times = np.full(self.capacity, -np.inf, np.float64)
        self.written = 0  # absolute count of kept frames
        self.last_kept_t = -math.inf
        self.resets = 0

    @property
    def storage(self) -> np.ndarray | None:
        """The current frame storage (replaced when the frame size changes)."""
        return self._frames

    @property
    def worst_case_bytes(self) -> int:
        """Bound for any input aspect ratio (square frames at ``max_side``)."""
        return self.capacity * self.max_side * self.max_side * 3 + self._times.nbytes

    @property
    def capacity_bytes(self) -> int:
        """Bytes allocated now (0 before the first frame)."""
        return (0 if self._frames is None else self._frames.nbytes) + self._times.nbytes

    @property
    def horizon(self) -> float | None:
        return None if self.written == 0 else float(self._times[(self.written - 1) % self.capacity])

    def wants(self, t: float) -> bool:
        """True if a frame at ``t`` should be kept: the first frame in each 1/keep_fps bin of session time.

        Bins (rather than "at least a period since the last one") give exactly keep_fps from any faster source
        (10 fps -> 8, not 5) and never more, whatever the arrival jitter."""
        return self.last_kept_t == -math.inf or math.floor(t * self.keep_fps) > math.floor(
            self.last_kept_t * self.keep_fps
        )

    def reduced_shape(self, height: int, width: int) -> tuple[int, int]:
        return reduced_shape(height, width, self.max_side)

    def reduce(self, frame: np.ndarray) -> np.ndarray:
        """Resize uint8 [H, W, 3] so its long side is <= max_side. Called outside the lock, on a source thread.

        Halves with area averaging while the frame is at least twice the target (OpenCV's fast integer path, and
        it anti-aliases), then finishes the last < 2x step bilinearly: 0.4 ms for 720p -> 448x252 instead of
        7 ms for one non-integer INTER_AREA, with the same absence of aliasing for what the model sees after its own
        antialiased resize to 224.
        """
        h, w = frame.shape[:2]
        rh, rw = self.reduced_shape(h, w)
        if (rh, rw) == (h, w):
            return np.ascontiguousarray(frame)
        img = frame
        while img.shape[0] >= 2 * rh and img.shape[1] >= 2 * rw:
            img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        if img.shape[:2] != (rh, rw):
            img = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        return img

    def write(self, small: np.ndarray, t: float) -> None:
        if self._frames is None or self._frames.shape[1:] != small.shape:
            if self._frames is not None:
                self.resets += 1
            self._frames = np.zeros((self.capacity, *small.shape), np.uint8)
            self._times[:] = -np.inf
        i = self.written % self.capacity
        self._frames[i] = small
        self._times[i] = t
        self.written += 1
        self.last_kept_t = t

    def locate(self, t0: float, t1: float) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """Where the kept frames with t0 <= t <= t1 are, oldest first: (storage, absolute indices, times).

        Cheap (no frame is copied): called under the lock; the caller copies the frames outside it with
        ``storage[abs % capacity]`` and then keeps only those ``still_intact``.
        """
        if self._frames is None:
            return None, np.zeros(0, np.int64), np.zeros(0, np.float64)
        held = min(self.written, self.capacity)
        absolute = np.arange(self.written - held, self.written, dtype=np.int64)
        times = self._times[absolute % self.capacity]
        mask = (times >= t0) & (times <= t1)
        return self._frames, absolute[mask], times[mask].copy()

    def still_intact(self, absolute: np.ndarray) -> np.ndarray:
        """Mask of absolute indices whose slot has not been overwritten since ``locate``. Called under the lock;
        writes happen under it too, so a write that overlapped the caller's copy has completed and counted."""
        return absolute >= self.written - self.capacity

    def select(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the kept frames with t0 <= t <= t1, oldest first: uint8 [N, h, w, 3], float64 [N]."""
        storage, absolute, times = self.locate(t0, t1)
        if storage is None:
            return np.zeros((0, 1, 1, 3), np.uint8), times
        return storage[absolute % self.capacity], times


@dataclass(frozen=True)
class LatestFrame:
    """The newest full-resolution frame for the preview. ``frame`` is read-only; ``index`` counts every frame."""

    frame: np.ndarray  # uint8 [H, W, 3] RGB
    t: float  # session seconds
    index: int


@dataclass(frozen=True)
class BufferStats:
    frames_pushed: int
    frames_kept: int
    audio_samples: int
    audio_gaps: int
    audio_resyncs: int
    audio_gap_s: float
    audio_overlap_dropped_s: float
    video_horizon: float | None
    audio_horizon: float | None
    capacity_bytes: int
    worst_case_bytes: int


FrameListener = Callable[[np.ndarray, float], None]
AudioListener = Callable[[np.ndarray, float], None]


class LiveBuffer:
    """The sink every source pushes into; owns the session clock and the rings; cuts ``Window`` values.

    Threads: ``push_frame`` / ``push_audio`` / ``set_source_info`` on source threads; ``latest_frame`` /
    ``recent_audio`` / ``stats`` on the UI thread (display timer); ``cut_window`` / ``horizons`` on the scheduler
    thread. One short lock guards the rings; resizing happens outside it.
    """

    def __init__(
        self,
        clock: SessionClock | None = None,
        window_s: float = DEFAULT_WINDOW_S,
        max_side: int = MAX_SIDE_PX,
        keep_fps: float | None = None,
        audio_capacity_s: float | None = None,
    ) -> None:
        self.clock = clock or SessionClock()
        self.window_s = float(window_s)
        fps = keep_fps if keep_fps is not None else keep_fps_for_window(window_s)
        self.frames = FrameRing(math.ceil(fps * (window_s + FRAME_SLACK_S)), fps, max_side)
        self.audio = AudioRing(
            audio_capacity_s
            if audio_capacity_s is not None
            else max(AUDIO_MIN_CAPACITY_S, window_s + AUDIO_SLACK_S)
        )
        self._lock = threading.Lock()
        self._latest: LatestFrame | None = None
        self._frames_pushed = 0
        self._source_info: dict[str, str] = {}
        self._frame_listeners: list[FrameListener] = []
        self._audio_listeners: list[AudioListener] = []

    # -- source threads -----------------------------------------------------------------------------------------

    def push_frame(self, frame: np.ndarray, t: float) -> None:
        """frame: uint8 [H, W, 3] RGB (kept by reference, made read-only); t: session seconds. Source thread."""
        frame.setflags(write=False)
        self._latest = LatestFrame(frame, t, self._frames_pushed)
        self._frames_pushed += 1
        if self.frames.wants(t):
            small = self.frames.reduce(frame)
            with self._lock:
                self.frames.write(small, t)
        for listener in self._frame_listeners:
            listener(frame, t)

    def push_audio(self, samples: np.ndarray, t0: float, exact: bool = False) -> None:
        """samples: float32 [S] mono 16 kHz (copied); t0: session seconds of samples[0]; ``exact``: t0 is the
        samples' presentation time, not an arrival time with jitter (see ``AudioRing``). Source thread."""
        samples = np.asarray(samples, np.float32)
        with self._lock:
            self.audio.write(samples, t0, exact)
        for listener in self._audio_listeners:
            listener(samples, t0)

    def set_source_info(self, role: str, description: str) -> None:
        """role 'video' or 'audio'; shown in status lines and copied into every Window's ``source``."""
        self._source_info[role] = description

    def add_listener(
        self, on_frame: FrameListener | None = None, on_audio: AudioListener | None = None
    ) -> None:
        """Taps for a recorder: called on the source thread with every full-resolution frame (read-only) and every
        16 kHz audio block. They must only hand the data to a bounded queue. Register before sources start."""
        if on_frame is not None:
            self._frame_listeners.append(on_frame)
        if on_audio is not None:
            self._audio_listeners.append(on_audio)

    # -- UI thread ----------------------------------------------------------------------------------------------

    def latest_frame(self) -> LatestFrame | None:
        """The newest full-resolution frame (or None). Never blocks."""
        return self._latest

    def recent_audio(self, seconds: float) -> np.ndarray:
        """The newest ``seconds`` of 16 kHz mono audio, float32 copy (zeros where there was none)."""
        with self._lock:
            return self.audio.latest(seconds)

    def source_info(self) -> dict[str, str]:
        return dict(self._source_info)

    def stats(self) -> BufferStats:
        with self._lock:
            rate = self.audio.rate_hz
            return BufferStats(
                frames_pushed=self._frames_pushed,
                frames_kept=self.frames.written,
                audio_samples=self.audio.written - self.audio.gap_samples,
                audio_gaps=self.audio.gaps,
                audio_resyncs=self.audio.resyncs,
                audio_gap_s=self.audio.gap_samples / rate,
                audio_overlap_dropped_s=self.audio.dropped_overlap_samples / rate,
                video_horizon=self.frames.horizon,
                audio_horizon=self.audio.horizon,
                capacity_bytes=self.capacity_bytes,
                worst_case_bytes=self.worst_case_bytes,
            )

    @property
    def capacity_bytes(self) -> int:
        """Bytes held by the rings now (excluding the one preview frame)."""
        return self.frames.capacity_bytes + self.audio.capacity_bytes

    @property
    def worst_case_bytes(self) -> int:
        """Upper bound of ring memory for any frame size (excluding the one preview frame)."""
        return self.frames.worst_case_bytes + self.audio.capacity_bytes

    # -- scheduler thread ---------------------------------------------------------------------------------------

    def horizons(self) -> tuple[float | None, float | None]:
        """(newest frame time, end of newest audio) in session seconds; None where nothing arrived.

        The video horizon is the newest frame pushed (kept or not): it says how far the video has arrived."""
        latest = self._latest
        with self._lock:
            return (latest.t if latest is not None else None), self.audio.horizon

    def cut_window(self, window_id: int, t0: float, t1: float) -> Window | None:
        """The ``Window`` for session span [t0, t1], or None when no frame falls in it.

        Audio is exactly (t1 - t0) * 16 kHz samples with an honest status: ``missing`` (none at all; audio is None),
        ``silent`` (peak under SILENCE_PEAK_DBFS), ``partial`` (coverage under AUDIO_PARTIAL_BELOW; holes are zeros),
        else ``ok``. ``source`` carries the coverage, the peak level and the source descriptions.
        """
        with self._lock:  # only find the frames here: the camera thread must not wait for a 10 MB copy
            storage, absolute, times = self.frames.locate(t0, t1)
            if storage is None or len(absolute) == 0:
                return None
            samples, valid = self.audio.read(t0, t1)
        frames = storage[absolute % self.frames.capacity]
        with self._lock:
            intact = self.frames.still_intact(absolute) if storage is self.frames.storage else None
        if intact is not None and not intact.all():  # lapped while copying (the scheduler fell far behind)
            frames, times = frames[intact], times[intact]
            if len(frames) == 0:
                return None
        n = len(samples)
        n_valid = int(valid.sum()) if n else 0
        coverage = n_valid / n if n else 0.0
        peak = float(np.max(np.abs(samples))) if n_valid else 0.0
        audio: np.ndarray | None = samples
        if n_valid == 0:
            status, audio = AUDIO_MISSING, None
        elif dbfs(peak) < SILENCE_PEAK_DBFS:
            status = AUDIO_SILENT
        elif coverage < AUDIO_PARTIAL_BELOW:
            status = AUDIO_PARTIAL
        else:
            status = AUDIO_OK
        source: dict[str, Any] = dict(self._source_info)
        source.update(
            audio_coverage=round(coverage, 4),
            audio_peak_dbfs=round(dbfs(peak), 1) if peak > 0 else None,
            frames=len(frames),
        )
        return Window(
            id=window_id,
            t0=t0,
            t1=t1,
            frames=frames,
            frame_times=times,
            audio=audio,
            audio_status=status,
            wall_t0=self.clock.wall_at(t0),
            source=source,
        )
