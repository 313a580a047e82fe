from __future__ import annotations

import io

from core.evaluation.progress import Progress, format_duration


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_rate_and_eta_count_only_this_session():
    clock, out = Clock(), io.StringIO()
    p = Progress(10, done=4, title="eval", stream=out, clock=clock, period_s=0)
    clock.t = 4.0
    p.update(note="a.mp4 → sad")
    clock.t = 8.0
    p.update()
    # 2 clips in 8 s = 0.25 clips/s; 4 left -> 16 s
    assert p.line() == "eval 6/10  60% | 0.25 clips/s | ETA 16s"
    assert out.getvalue().splitlines()[0].endswith("a.mp4 → sad")


def test_slow_rates_show_seconds_per_clip_and_durations_read_well():
    clock = Clock()
    p = Progress(100, stream=io.StringIO(), clock=clock, period_s=0)
    clock.t = 20.0
    p.update()
    assert "20.0 s/clip" in p.line() and "ETA 33m00s" in p.line()
    assert format_duration(3725) == "1h02m" and format_duration(59.6) == "1m00s"


def test_non_tty_output_is_throttled():
    clock, out = Clock(), io.StringIO()
    p = Progress(100, stream=out, clock=clock)  # default period on a non-tty: 10 s
    for i in range(30):
        clock.t = i * 1.0
        p.update()
    assert len(out.getvalue().splitlines()) == 3  # t = 0, 10, 20
