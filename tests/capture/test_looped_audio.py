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
    """Driven like ``analyse_every_window``: the clock moves to each boundary only, the paced source delivers up to
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
