import threading
import time

import pytest

from core.clock import FakeClock, SessionClock


def test_session_clock_is_monotonic_from_zero_with_wall_anchor():
    before = time.time()
    clock = SessionClock()
    t_a = clock.now()
    time.sleep(0.02)
    t_b = clock.now()
    assert 0 <= t_a < 0.01
    assert t_b - t_a >= 0.019
    assert before <= clock.wall_t0 <= time.time()
    assert clock.wall_at(10.0) == pytest.approx(clock.wall_t0 + 10.0)


def test_session_clock_sleep_until_returns_false_when_stopped():
    clock = SessionClock()
    stop = threading.Event()
    stop.set()
    assert clock.sleep_until(clock.now() + 5.0, stop) is False


def test_fake_clock_moves_only_when_told_and_never_back():
    clock = FakeClock(start=1.5)
    assert clock.now() == 1.5
    assert clock.advance(0.5) == 2.0
    clock.set(3.0)
    assert clock.now() == 3.0
    with pytest.raises(ValueError):
        clock.set(2.0)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_fake_clock_sleep_until_blocks_until_advanced():
    clock = FakeClock()
    woke = []
    thread = threading.Thread(target=lambda: woke.append(clock.sleep_until(1.0)))
    thread.start()
    time.sleep(0.1)
    assert woke == []
    clock.advance(1.0)
    thread.join(1.0)
    assert woke == [True]
