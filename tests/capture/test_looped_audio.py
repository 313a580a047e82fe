"""A file whose audio presentation times have holes (a looped AAC clip) is cut into every window.

The audio of ``ffmpeg -stream_loop 3 -i clip_a.mp4 -c:a aac`` jumps 64 ms ahead at each seam. The ring used to take
such a jump for stamp jitter and append the samples contiguously, so they sat up to 64 ms (times the seams) before
their stamps until the next re-alignment; a source paced on those stamps had played up to t1 while the buffer's
audio ended before it, and ``monitor --every-window`` (whose clock waits for the data) never cut a window.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.capture.media_file import MediaFileSource
from core.clock import FakeClock
from core.ring_buffer import AudioRing, LiveBuffer
from core.scheduler import Mailbox, Scheduler
from core.window import AUDIO_OK, MODEL_SAMPLE_RATE_HZ
from tests.capture.helpers import wait_for
from tests.capture.looped import SEAM_HOLE_S, make_looped_aac
from tests.support.streams import ffmpeg_available

SR = MODEL_SAMPLE_RATE_HZ
BLOCK = 1024


def test_exact_stamps_place_a_short_hole_at_once_where_device_stamps_absorb_it():
    exact, device = AudioRing(capacity_s=5.0), AudioRing(capacity_s=5.0)
    for ring, is_exact in ((exact, True), (device, False)):
        ring.write(np.full(BLOCK, 0.1, np.float32), 0.0, exact=is_exact)
        ring.write(np.full(BLOCK, 0.1, np.float32), 2 * BLOCK / SR, exact=is_exact)  # one block's time missing
    assert exact.gaps == 1 and exact.horizon == pytest.approx(3 * BLOCK / SR)
    _, valid = exact.read(0.0, 3 * BLOCK / SR)
    assert valid[:BLOCK].all() and not valid[BLOCK : 2 * BLOCK].any() and valid[2 * BLOCK :].all()
    assert device.gaps == 0 and device.horizon == pytest.approx(2 * BLOCK / SR)  # jitter, by design


def test_exact_stamps_tolerate_rounding_and_drop_a_real_overlap():
    ring = AudioRing(capacity_s=5.0)
    ring.write(np.full(BLOCK, 0.1, np.float32), 0.0, exact=True)
    ring.write(np.full(BLOCK, 0.1, np.float32), BLOCK / SR + 0.4 / SR, exact=True)  # sub-sample rounding
    assert ring.gaps == 0 and ring.written == 2 * BLOCK
    ring.write(np.full(BLOCK, 0.1, np.float32), BLOCK / SR, exact=True)  # the same time again: an overlap
    assert ring.dropped_overlap_samples == BLOCK and ring.written == 2 * BLOCK


@pytest.fixture(scope="module")
def looped(tmp_path_factory):
    if not ffmpeg_available():
        pytest.skip("ffmpeg not installed: apt-get install ffmpeg")
    return make_looped_aac(tmp_path_factory.mktemp("looped") / "looped.mp4")


def test_every_boundary_of_a_looped_aac_file_gets_its_data_at_the_clock(looped):
    """Driven like ``analyze_every_window``: the clock moves to each boundary only, the paced source delivers up to
    it, and the buffer then holds video and audio up to that boundary (the data is ready without moving on)."""
    clock = FakeClock()
    buf = LiveBuffer(clock, window_s=1.0)
    sched = Scheduler(buf, Mailbox(), window_s=1.0, hop_s=0.5)
    src = MediaFileSource(looped, realtime=True)
    src.start(buf)
    try:
        assert wait_for(lambda: buf.horizons()[0] is not None)
        sched.start_at(clock.now())
        boundaries = [sched.boundary(k) for k in range(22)]  # 1.0 .. 11.5 s, all within the 12.2 s file
        for k, t1 in enumerate(boundaries):
            clock.set(t1)
            assert wait_for(lambda t1=t1: sched.data_ready(t1), timeout=5.0), (t1, buf.horizons())
            window = sched.tick(now=t1)
            assert window is not None and window.id == k and window.audio_status == AUDIO_OK
        assert buf.audio.gaps == 3  # one hole per seam, placed where the stamps put it
        assert buf.audio.gap_samples == pytest.approx(3 * SEAM_HOLE_S * SR, abs=3)
        _, valid = buf.audio.read(3.0, 3.1)  # the first seam: 3.008 .. 3.072 s has no samples
        assert valid[: int(0.007 * SR)].all() and not valid[int(0.009 * SR) : int(0.071 * SR)].any()
    finally:
        src.stop()


def _every_window(sched, buf, clock, sources, timeout_s=10.0):
    """The every-window loop as ``DataOutlook`` describes it: returns [(t1, audio coverage)] of the windows cut."""
    import time

    from core.scheduler import MAX_WAIT_S

    cut, k = [], 0
    sched.start_at(clock.now())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        t1 = sched.boundary(k)
        clock.set(max(t1, clock.now()))
        while True:
            outlook = sched.outlook(t1, sources, clock.now())
            if outlook.ready or (outlook.stalled and (outlook.finished or outlook.resume_at > t1 + MAX_WAIT_S)):
                break
            if outlook.resume_at is not None:
                clock.set(outlook.resume_at)  # a hole in the stamps: the data after it comes once the clock moves
            elif time.monotonic() > deadline:
                raise AssertionError(f"no outlook for t1={t1}")
            else:
                time.sleep(0.002)
        if not outlook.ready and outlook.finished and not sched.video_ready(t1):
            return cut  # the file ends before this window
        window = sched.tick(now=t1 if outlook.ready else t1 + MAX_WAIT_S)
        assert window is not None and window.t1 == pytest.approx(t1)
        cut.append((t1, window.source["audio_coverage"]))
        k += 1
    raise AssertionError("the every-window loop did not end")


def test_outlook_moves_past_a_hole_that_straddles_a_boundary_and_sees_the_end(looped):
    """With 3.04 s windows the first boundary falls inside the 3.008-3.072 s hole: the outlook says the sources wait
    for the clock (``resume_at``), and the data after the hole then arrives; at the end it says ``finished``."""
    clock = FakeClock()
    buf = LiveBuffer(clock, window_s=3.04)
    sched = Scheduler(buf, Mailbox(), window_s=3.04, hop_s=1.0)
    src = MediaFileSource(looped, realtime=True)
    src.start(buf)
    try:
        assert wait_for(lambda: buf.horizons()[0] is not None)
        cut = _every_window(sched, buf, clock, [src])
    finally:
        src.stop()
    assert [t1 for t1, _ in cut] == pytest.approx([3.04 + k for k in range(10)])  # 12.04 s is the last in 12.2 s
    first_coverage = cut[0][1]
    assert 0.98 < first_coverage < 1.0  # the hole's 32 ms inside the window are missing, not silence
    assert src.status().state == "ended" and not src.status().active


def test_outlook_waits_while_a_source_decodes_and_is_finished_once_it_stops(looped):
    clock = FakeClock()
    buf = LiveBuffer(clock, window_s=1.0)
    sched = Scheduler(buf, Mailbox(), window_s=1.0, hop_s=0.5, start_t=0.0)
    src = MediaFileSource(looped, realtime=True)
    assert sched.outlook(1.0, [src], 0.0).finished  # not started: nothing will come
    src.start(buf)
    try:
        assert wait_for(lambda: sched.outlook(1.0, [src], 0.0).resume_at is not None)
        outlook = sched.outlook(1.0, [src], 0.0)
        assert not outlook.ready and outlook.stalled and 0.0 < outlook.resume_at <= 1 / 15 + 1e-9
    finally:
        src.stop()
    assert sched.outlook(1.0, [src], 0.0).finished
