import numpy as np
import pytest

from core.clock import FakeClock
from core.ring_buffer import (
    MAX_SIDE_PX,
    AudioRing,
    FrameRing,
    LiveBuffer,
    keep_fps_for_window,
)
from core.window import AUDIO_MISSING, AUDIO_OK, AUDIO_PARTIAL, AUDIO_SILENT, MODEL_SAMPLE_RATE_HZ

SR = MODEL_SAMPLE_RATE_HZ


def ramp(n, start=0):
    return (np.arange(start, start + n) % 1000).astype(np.float32) / 1000.0


def test_audio_ring_wraps_with_absolute_counters_and_contiguous_reads():
    ring = AudioRing(capacity_s=1.0)
    block = SR // 10
    for i in range(25):  # 2.5 s into a 1 s ring
        ring.write(ramp(block, i * block), t0=i * 0.1)
    assert ring.written == 25 * block
    samples, valid = ring.read(1.6, 2.5)
    assert len(samples) == int(0.9 * SR)
    assert valid.all()
    np.testing.assert_array_equal(samples, ramp(len(samples), int(1.6 * SR)))
    old, old_valid = ring.read(0.0, 0.5)  # overwritten long ago
    assert not old_valid.any() and not old.any()


def test_audio_ring_marks_gaps_invalid_and_absorbs_small_jitter():
    ring = AudioRing(capacity_s=5.0)
    ring.write(np.full(SR, 0.5, np.float32), t0=0.0)
    ring.write(np.full(SR, 0.5, np.float32), t0=1.05)  # 50 ms late: jitter, appended contiguously
    assert ring.gaps == 0
    ring.write(np.full(SR, 0.5, np.float32), t0=3.0)  # ~1 s late: a gap
    assert ring.gaps == 1
    _, valid = ring.read(0.0, 4.0)
    assert valid[: 2 * SR].all()
    assert not valid[2 * SR : 3 * SR - 10].any()
    assert valid[3 * SR :].all()
    ring.write(np.full(SR, 0.5, np.float32), t0=3.0)  # overlaps the last block entirely: dropped, counted
    assert ring.dropped_overlap_samples == SR


def test_frame_ring_decimates_resizes_and_selects_by_time():
    ring = FrameRing(capacity=16, keep_fps=8.0)
    assert ring.reduced_shape(720, 1280) == (252, 448)
    kept = 0
    for i in range(60):  # 2 s at 30 fps
        t = i / 30
        if ring.wants(t):
            ring.write(ring.reduce(np.full((720, 1280, 3), i, np.uint8)), t)
            kept += 1
    assert 14 <= kept <= 16  # ~7.5 fps
    frames, times = ring.select(1.0, 2.0)
    assert frames.shape[1:] == (252, 448, 3)
    assert np.all((times >= 1.0) & (times <= 2.0)) and np.all(np.diff(times) > 0)
    assert frames[0, 0, 0, 0] == round(times[0] * 30)


def test_keep_rate_bounds_frames_per_window():
    assert keep_fps_for_window(4.0) == 8.0
    assert keep_fps_for_window(30.0) == pytest.approx(32 / 30)
    for window_s in (1.0, 4.0, 10.0, 30.0):
        buf = LiveBuffer(FakeClock(), window_s=window_s)
        # memory bound independent of window length: <= 64 frames of 448x448 + audio
        assert buf.frames.capacity <= 64
        assert buf.worst_case_bytes <= 64 * MAX_SIDE_PX * MAX_SIDE_PX * 3 + 10 * 2**20


def feed(buf, t_end, fps=30.0, audio=True, level=0.3, size=(120, 160)):
    for i in range(int(t_end * fps)):
        t = i / fps
        buf.push_frame(np.full((*size, 3), i % 256, np.uint8), t)
    if audio:
        n = int(t_end * SR)
        tt = np.arange(n) / SR
        buf.push_audio((level * np.sin(2 * np.pi * 440 * tt)).astype(np.float32), 0.0)


def test_live_buffer_cuts_window_with_frames_audio_and_status():
    clock = FakeClock()
    buf = LiveBuffer(clock, window_s=4.0)
    buf.set_source_info("video", "synthetic 160x120@30")
    feed(buf, 6.0)
    w = buf.cut_window(7, 2.0, 6.0)
    assert w.id == 7 and w.t0 == 2.0 and w.t1 == 6.0
    assert 28 <= len(w.frames) <= 33 and w.frames.dtype == np.uint8
    assert w.audio.shape == (4 * SR,) and w.audio_status == AUDIO_OK
    assert w.source["video"] == "synthetic 160x120@30"
    assert w.wall_t0 == clock.wall_at(2.0)
    with pytest.raises(ValueError):
        w.frames[0, 0, 0, 0] = 1  # read-only, safe to hand to another thread
    latest = buf.latest_frame()
    assert latest.index == 179 and latest.frame.shape == (120, 160, 3)
    assert buf.recent_audio(1.0).shape == (SR,)


def test_live_buffer_audio_status_missing_silent_partial():
    buf = LiveBuffer(FakeClock(), window_s=4.0)
    feed(buf, 4.0, audio=False)
    w = buf.cut_window(0, 0.0, 4.0)
    assert w.audio_status == AUDIO_MISSING and w.audio is None

    buf = LiveBuffer(FakeClock(), window_s=4.0)
    feed(buf, 4.0, level=1e-4)
    assert buf.cut_window(0, 0.0, 4.0).audio_status == AUDIO_SILENT

    buf = LiveBuffer(FakeClock(), window_s=4.0)
    feed(buf, 4.0, audio=False)
    buf.push_audio(np.full(SR, 0.2, np.float32), 3.0)  # only the last second
    w = buf.cut_window(0, 0.0, 4.0)
    assert w.audio_status == AUDIO_PARTIAL
    assert w.source["audio_coverage"] == pytest.approx(0.25, abs=0.01)
    assert not w.audio[: 2 * SR].any() and w.audio[-SR // 2 :].min() == pytest.approx(0.2)


def test_live_buffer_no_frames_in_span_gives_none():
    buf = LiveBuffer(FakeClock())
    buf.push_audio(np.full(SR, 0.2, np.float32), 0.0)
    assert buf.cut_window(0, 0.0, 1.0) is None


def test_frame_size_change_restarts_frame_ring():
    buf = LiveBuffer(FakeClock())
    buf.push_frame(np.zeros((100, 100, 3), np.uint8), 0.0)
    buf.push_frame(np.zeros((50, 80, 3), np.uint8), 1.0)
    w = buf.cut_window(0, 0.0, 1.0)
    assert len(w.frames) == 1 and w.frames.shape[1:] == (50, 80, 3)


def test_listeners_see_every_full_resolution_frame_and_audio_block():
    buf = LiveBuffer(FakeClock())
    seen_frames, seen_audio = [], []
    buf.add_listener(
        lambda f, t: seen_frames.append((f.shape, t)), lambda a, t0: seen_audio.append((len(a), t0))
    )
    feed(buf, 1.0)
    assert len(seen_frames) == 30 and seen_frames[0] == ((120, 160, 3), 0.0)
    assert seen_audio == [(SR, 0.0)]


@pytest.mark.parametrize(
    "shape", [(720, 1280), (1080, 1920), (480, 640), (481, 641), (300, 200), (2160, 3840)]
)
def test_frame_reduction_keeps_aspect_and_content(shape):
    ring = FrameRing(capacity=4, keep_fps=8.0)
    h, w = shape
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, : w // 2] = (200, 10, 10)  # left half red, right half blue
    frame[:, w // 2 :] = (10, 10, 200)
    small = ring.reduce(frame)
    assert small.shape[:2] == ring.reduced_shape(h, w)
    assert max(small.shape[:2]) == min(MAX_SIDE_PX, max(h, w))
    sh, sw = small.shape[:2]
    assert abs(sw / sh - w / h) < 0.02
    assert tuple(small[sh // 2, sw // 8]) == (200, 10, 10) and tuple(small[sh // 2, -sw // 8]) == (
        10,
        10,
        200,
    )


def test_frames_overwritten_while_a_window_is_copied_are_left_out():
    buf = LiveBuffer(FakeClock(), window_s=1.0, keep_fps=8.0)  # capacity ceil(8 * 5) = 40 frames
    cap = buf.frames.capacity
    for i in range(cap):
        buf.push_frame(np.full((8, 8, 3), i, np.uint8), i / 8)
    _, absolute, _ = buf.frames.locate(0.0, 1.0)
    assert list(absolute) == list(range(9)) and buf.frames.still_intact(absolute).all()
    for i in range(cap, cap + 3):  # the writer laps the three oldest slots
        buf.push_frame(np.full((8, 8, 3), i, np.uint8), i / 8)
    intact = buf.frames.still_intact(absolute)
    assert list(intact) == [False] * 3 + [True] * 6
    frames, kept_times = buf.frames.select(0.0, 1.0)
    assert len(frames) == 6 and kept_times[0] == 3 / 8 and frames[0, 0, 0, 0] == 3


@pytest.mark.parametrize("source_fps", [10.0, 15.0, 24.0, 30.0, 60.0])
def test_decimation_keeps_keep_fps_from_any_faster_source_with_jitter(source_fps):
    ring = FrameRing(capacity=200, keep_fps=8.0)
    rng = np.random.default_rng(1)
    kept = []
    for i in range(int(10 * source_fps)):  # 10 s with +-3 ms arrival jitter
        t = i / source_fps + rng.uniform(-0.003, 0.003)
        if ring.wants(t):
            ring.write(np.zeros((2, 2, 3), np.uint8), t)
            kept.append(t)
    assert 79 <= len(kept) <= 81
    assert np.diff(kept).max() < 2 / 8 + 0.01  # never a hole of two periods


def test_decimation_passes_slower_sources_whole():
    ring = FrameRing(capacity=100, keep_fps=8.0)
    kept = sum(
        ring.wants(i / 5) and (ring.write(np.zeros((2, 2, 3), np.uint8), i / 5) or True) for i in range(50)
    )
    assert kept == 50


def _stream(ring, seconds, start_t, jitter_s=0.0, lag_s=0.0, block_s=0.02, seed=0):
    """Write ``seconds`` of 20 ms blocks whose true start is start_t, stamped late by lag + [0, jitter)."""
    rng = np.random.default_rng(seed)
    n = int(block_s * SR)
    for i in range(int(seconds / block_s)):
        t_true = start_t + i * block_s
        ring.write(np.full(n, 0.1, np.float32), t_true + lag_s + rng.uniform(0, jitter_s))


def position_error(ring, t):
    """Where the ring would place time t minus where the data actually is (s)."""
    return (ring.written - ring.index_of(t)) / SR


def test_arrival_jitter_alone_never_resyncs_or_gaps():
    ring = AudioRing(capacity_s=20.0)
    _stream(ring, 10.0, 0.0, jitter_s=0.03)
    assert ring.resyncs == 0 and ring.gaps == 0 and ring.dropped_overlap_samples == 0


def test_a_short_stall_is_realigned_within_a_second():
    ring = AudioRing(capacity_s=20.0)
    _stream(ring, 2.0, 0.0, jitter_s=0.01)
    # the device stalls for 120 ms (under the 200 ms jitter tolerance), then goes on with true stamps
    _stream(ring, 3.0, 2.12, jitter_s=0.01, seed=1)
    assert ring.resyncs == 1
    assert abs(position_error(ring, 5.12)) < 0.04 + 0.02  # data end vs true end, within tolerance + a block
    _, valid = ring.read(0.0, 5.1)
    assert 0.10 <= (1 - valid.mean()) * 5.1 <= 0.125  # the stall is an invalid hole, not silence


def test_a_clock_running_fast_is_trimmed_back():
    ring = AudioRing(capacity_s=20.0)
    # the first block arrived 80 ms late, so everything after it looks early: samples are dropped to re-align
    ring.write(np.full(320, 0.1, np.float32), 0.08)
    _stream(ring, 3.0, 0.02, jitter_s=0.005)
    assert ring.resyncs >= 1
    assert abs(position_error(ring, 3.02)) < 0.04 + 0.02
