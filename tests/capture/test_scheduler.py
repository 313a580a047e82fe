import threading

import numpy as np
import pytest

from core.clock import FakeClock
from core.ring_buffer import LiveBuffer
from core.scheduler import MAX_WAIT_S, Mailbox, Scheduler, check_window_hop
from core.window import AUDIO_MISSING, AUDIO_OK, AUDIO_SILENT, MODEL_SAMPLE_RATE_HZ

SR = MODEL_SAMPLE_RATE_HZ


def test_mailbox_latest_wins_and_counts_superseded():
    box = Mailbox()
    assert box.put("a") is False
    assert box.put("b") is True
    assert box.superseded == 1 and box.posted == 2
    assert box.get(0) == "b"
    assert box.get(0.01) is None
    assert box.taken == 1


def test_mailbox_close_wakes_waiting_worker():
    box = Mailbox()
    got = []
    worker = threading.Thread(target=lambda: got.append(box.get(timeout=10)))
    worker.start()
    box.close()
    worker.join(2)
    assert not worker.is_alive() and got == [None]
    assert box.put("late") is False


class Feed:
    """Drives a LiveBuffer like a 30 fps camera + 16 kHz microphone under a fake clock."""

    def __init__(self, buf, clock, audio_level=0.3, video=True, audio=True):
        self.buf, self.clock = buf, clock
        self.level, self.video, self.audio = audio_level, video, audio
        self.frame_i = 0
        self.audio_t = 0.0

    def until(self, t):
        while self.video and self.frame_i / 30 <= t:
            self.buf.push_frame(np.zeros((60, 80, 3), np.uint8), self.frame_i / 30)
            self.frame_i += 1
        while self.audio and self.audio_t + 0.02 <= t + 1e-9:
            n = int(0.02 * SR)
            self.buf.push_audio(np.full(n, self.level, np.float32), self.audio_t)
            self.audio_t += 0.02
        self.clock.set(max(self.clock.now(), t))


def run(sched, feed, t_end, step=0.02):
    windows = []
    t = 0.0
    while t < t_end:
        t = round(t + step, 6)
        feed.until(t)
        w = sched.tick()
        if w is not None:
            windows.append(w)
    return windows


def test_scheduler_cuts_every_hop_when_data_reaches_boundary():
    clock = FakeClock()
    buf = LiveBuffer(clock, window_s=4.0)
    box = Mailbox()
    sched = Scheduler(buf, box, window_s=4.0, hop_s=2.0, start_t=0.0)
    windows = run(sched, Feed(buf, clock), 10.0)
    assert [(w.t0, w.t1) for w in windows] == [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (6.0, 10.0)]
    assert [w.id for w in windows] == [0, 1, 2, 3]
    assert all(w.audio_status == AUDIO_OK and len(w.audio) == 4 * SR for w in windows)
    stats = sched.stats()
    assert stats.windows_cut == 4 and stats.superseded == 3  # nobody took them
    assert stats.last_latency_s is not None and 0 <= stats.last_latency_s < 0.05
    assert box.get(0).id == 3


def test_scheduler_skips_windows_without_video_and_marks_missing_or_silent_audio():
    clock = FakeClock()
    buf = LiveBuffer(clock)
    sched = Scheduler(buf, Mailbox(), start_t=0.0)
    windows = run(sched, Feed(buf, clock, video=False), 8.0 + MAX_WAIT_S)
    assert windows == [] and sched.stats().skipped_no_video == 3

    clock = FakeClock()
    buf = LiveBuffer(clock)
    sched = Scheduler(buf, Mailbox(), start_t=0.0)
    windows = run(sched, Feed(buf, clock, audio=False), 6.0 + MAX_WAIT_S)
    assert [w.audio_status for w in windows] == [AUDIO_MISSING, AUDIO_MISSING]
    assert sched.stats().audio_missing == 2

    clock = FakeClock()
    buf = LiveBuffer(clock)
    sched = Scheduler(buf, Mailbox(), start_t=0.0)
    windows = run(sched, Feed(buf, clock, audio_level=0.0), 4.1)
    assert [w.audio_status for w in windows] == [AUDIO_SILENT]


def test_scheduler_waits_for_late_audio_but_not_forever():
    clock = FakeClock()
    buf = LiveBuffer(clock)
    sched = Scheduler(buf, Mailbox(), start_t=0.0)
    feed = Feed(buf, clock)
    feed.until(3.0)
    feed.audio = False  # microphone stalls at 3 s; video goes on
    feed.until(4.2)
    assert sched.tick() is None  # audio is flowing recently, so wait for it to reach t1 = 4
    feed.until(4.0 + MAX_WAIT_S)
    w = sched.tick()
    assert w is not None and w.t1 == 4.0
    assert w.audio_status == "partial"


def test_scheduler_late_tick_cuts_only_newest_and_counts_skipped():
    clock = FakeClock()
    buf = LiveBuffer(clock)
    sched = Scheduler(buf, Mailbox(), start_t=0.0)
    feed = Feed(buf, clock)
    feed.until(9.0)
    w = sched.tick()
    assert (w.t0, w.t1) == (4.0, 8.0)
    assert sched.stats().skipped_behind == 2


def test_scheduler_thread_posts_windows_with_real_clock():
    buf = LiveBuffer()
    box = Mailbox()
    sched = Scheduler(buf, box, window_s=0.5, hop_s=0.25)
    stop = threading.Event()

    def camera():
        while not stop.wait(1 / 30):
            buf.push_frame(np.zeros((30, 40, 3), np.uint8), buf.clock.now())

    cam = threading.Thread(target=camera)
    cam.start()
    sched.start()
    try:
        first = box.get(timeout=3.0)
        second = box.get(timeout=3.0)
    finally:
        sched.stop(close_mailbox=True)
        stop.set()
        cam.join()
    assert first is not None and second is not None
    assert second.t1 > first.t1
    assert ((second.t1 - first.t1) / 0.25) == pytest.approx(round((second.t1 - first.t1) / 0.25))
    assert len(first.frames) >= 2


def test_bad_window_hop_is_a_clear_error():
    with pytest.raises(ValueError, match="30 s"):
        check_window_hop(60.0, 2.0)
    with pytest.raises(ValueError, match="hop_s"):
        check_window_hop(4.0, 0.0)


def test_file_read_faster_than_real_time_gives_the_newest_complete_window(tmp_path):
    from core.capture import MediaFileSource
    from tests.support.media import make_video

    path = make_video(tmp_path / "talk.mp4", seconds=5.0, fps=10, audio=True)
    buf = LiveBuffer(window_s=2.0)
    box = Mailbox()
    sched = Scheduler(buf, box, window_s=2.0, hop_s=1.0, start_t=buf.clock.now())
    src = MediaFileSource(path, realtime=False)
    src.start(buf)
    assert src.join(10)
    w = sched.tick()  # data is far ahead of the clock: cut the newest window it fully covers
    assert w is not None and w.t1 - sched.boundary(0) == pytest.approx(3.0, abs=1e-6)
    assert w.audio_status == AUDIO_OK and len(w.audio) == 2 * SR
    assert 14 <= len(w.frames) <= 21
    assert sched.stats().skipped_behind == 3
