"""Capture benchmark (a script, not a test): prints numbers, asserts nothing about speed.

1. capture -> window latency: a synthetic 720p30 + 48 kHz stereo source in real time, the scheduler thread and a
   worker taking windows from the mailbox; latency = session time when the window is posted / taken minus its t1.
2. CPU cost of capture at 720p30 + 48 kHz stereo: process CPU time over a real-time run, minus the synthetic
   generator's own drawing cost (measured separately), i.e. what the capture path (push, decimate + resize,
   block ring, downmix + resample, ring writes) costs; plus the BGR->RGB conversion a camera grab adds per frame.
3. Resident memory over a simulated session (default 1 hour) at accelerated time: a FakeClock drives the same
   source, scheduler and mailbox; RSS is sampled every simulated 5 minutes and must stay flat.

Usage: python bench/capture_bench.py [--latency-s 20] [--cpu-s 10] [--hours 1.0] [--json out.json]
Timings on a shared machine are noisy: run it twice and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

from core.capture import SyntheticSource
from core.clock import FakeClock, SessionClock
from core.process_stats import rss_mib
from core.ring_buffer import LiveBuffer
from core.scheduler import DEFAULT_HOP_S, DEFAULT_WINDOW_S, Mailbox, Scheduler

WIDTH, HEIGHT, FPS = 1280, 720, 30.0
AUDIO_RATE_HZ, CHANNELS = 48_000, 2
RSS_SAMPLE_EVERY_S = 300.0  # simulated seconds between memory samples
PUMP_STEP_S = 0.1  # simulated seconds per step of the accelerated run


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def bench_latency(seconds: float) -> dict:
    clock = SessionClock()
    buf = LiveBuffer(clock, window_s=DEFAULT_WINDOW_S)
    box: Mailbox = Mailbox()
    sched = Scheduler(buf, box, DEFAULT_WINDOW_S, DEFAULT_HOP_S)
    src = SyntheticSource(WIDTH, HEIGHT, FPS, audio="tone", audio_rate_hz=AUDIO_RATE_HZ, channels=CHANNELS)
    taken: list[float] = []
    frames_per_window: list[int] = []
    cut_ms: list[float] = []
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            w = box.get(timeout=0.2)
            if w is not None:
                taken.append(clock.now() - w.t1)
                frames_per_window.append(len(w.frames))

    original_cut = buf.cut_window

    def timed_cut(*a, **k):
        t = time.perf_counter()
        w = original_cut(*a, **k)
        cut_ms.append((time.perf_counter() - t) * 1e3)
        return w

    buf.cut_window = timed_cut  # type: ignore[method-assign]
    posted: list[float] = []
    w_thread = threading.Thread(target=worker)
    w_thread.start()
    src.start(buf)
    sched.start()
    last_id = -1
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        time.sleep(0.05)
        st = sched.stats()
        if st.last_window_id != last_id and st.last_latency_s is not None:
            last_id = st.last_window_id
            posted.append(st.last_latency_s)
    src.stop()
    sched.stop(close_mailbox=True)
    stop.set()
    w_thread.join()
    st = sched.stats()
    return {
        "windows": st.windows_cut,
        "first_window_post_latency_ms": 1e3 * posted[0] if posted else None,
        "post_latency_ms_p90_after_first": 1e3 * pct(posted[1:], 90) if len(posted) > 1 else None,
        "post_latency_ms_median": 1e3 * statistics.median(posted) if posted else None,
        "post_latency_ms_max": 1e3 * max(posted) if posted else None,
        "taken_latency_ms_median": 1e3 * statistics.median(taken) if taken else None,
        "taken_latency_ms_max": 1e3 * max(taken) if taken else None,
        "cut_window_ms_median": statistics.median(cut_ms) if cut_ms else None,
        "cut_window_ms_max": max(cut_ms) if cut_ms else None,
        "frames_per_window_median": statistics.median(frames_per_window) if frames_per_window else None,
        "source_fps": src.status().fps,
        "dropped_frames": src.status().dropped_frames,
        "audio_overflows": src.status().audio_overflows,
    }


def bench_cpu(seconds: float) -> dict:
    # the generator alone (what a real camera/mic would do for free)
    gen = SyntheticSource(WIDTH, HEIGHT, FPS, audio="tone", audio_rate_hz=AUDIO_RATE_HZ, channels=CHANNELS)
    n = int(FPS * 3)
    t = time.process_time()
    for i in range(n):
        gen.frame_at(i)
    gen_frame_ms = (time.process_time() - t) / n * 1e3
    bgr = gen.frame_at(0)
    t = time.process_time()
    for _ in range(n):
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cvt_ms = (time.process_time() - t) / n * 1e3

    buf = LiveBuffer(SessionClock(), window_s=DEFAULT_WINDOW_S)
    src = SyntheticSource(WIDTH, HEIGHT, FPS, audio="tone", audio_rate_hz=AUDIO_RATE_HZ, channels=CHANNELS)
    cpu0, wall0 = time.process_time(), time.monotonic()
    src.start(buf)
    time.sleep(seconds)
    src.stop()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    frames = src.status().frames
    total_pct = 100 * cpu / wall
    gen_pct = 100 * frames * gen_frame_ms / 1e3 / wall
    return {
        "seconds": round(wall, 2),
        "frames": frames,
        "fps": round(frames / wall, 2),
        "audio_s_16k": round(src.status().audio_samples / 16_000, 2),
        "total_cpu_pct_of_one_core": round(total_pct, 1),
        "generator_cpu_pct": round(gen_pct, 1),
        "capture_path_cpu_pct": round(total_pct - gen_pct, 1),
        "camera_bgr2rgb_ms_per_frame": round(cvt_ms, 3),
        "camera_bgr2rgb_cpu_pct_at_30fps": round(100 * cvt_ms * FPS / 1e3, 1),
        "ring_bytes": buf.capacity_bytes,
        "ring_worst_case_bytes": buf.worst_case_bytes,
    }


def bench_memory(hours: float) -> dict:
    clock = FakeClock()
    buf = LiveBuffer(clock, window_s=DEFAULT_WINDOW_S)
    box: Mailbox = Mailbox()
    sched = Scheduler(buf, box, DEFAULT_WINDOW_S, DEFAULT_HOP_S, start_t=0.0)
    src = SyntheticSource(
        WIDTH, HEIGHT, FPS, audio="chirp", audio_rate_hz=AUDIO_RATE_HZ, channels=CHANNELS, frame_pool=8
    )
    src.open(buf)
    samples: list[tuple[float, float]] = [(0.0, rss_mib())]
    total = hours * 3600.0
    steps = int(total / PUMP_STEP_S)
    next_sample = RSS_SAMPLE_EVERY_S
    taken = 0
    wall0, cpu0 = time.monotonic(), time.process_time()
    for i in range(1, steps + 1):
        now = i * PUMP_STEP_S
        clock.set(now)
        src.pump(now)
        if sched.tick(now) is not None and i % 3 == 0:  # a worker that keeps up with about half the windows
            taken += box.get(0) is not None
        if now >= next_sample:
            samples.append((now, rss_mib()))
            next_sample += RSS_SAMPLE_EVERY_S
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    st = sched.stats()
    rss = [r for _, r in samples]
    after_warmup = [r for t, r in samples if t >= 600]  # first 10 simulated minutes: allocator warm-up
    return {
        "simulated_s": total,
        "wall_s": round(wall, 1),
        "speedup": round(total / wall, 1),
        "cpu_ms_per_simulated_s": round(
            1e3 * cpu / total, 2
        ),  # whole path incl. scheduler, no pacing overhead
        "frames": src.status().frames,
        "windows_cut": st.windows_cut,
        "superseded": st.superseded,
        "windows_taken": taken,
        "audio_gaps": buf.stats().audio_gaps,
        "rss_mib_start": round(rss[0], 1),
        "rss_mib_after_10min": round(after_warmup[0], 1) if after_warmup else None,
        "rss_mib_end": round(rss[-1], 1),
        "rss_mib_max": round(max(rss), 1),
        "rss_growth_after_10min_mib": round(after_warmup[-1] - after_warmup[0], 1) if after_warmup else None,
        "rss_samples": [(int(t), round(r, 1)) for t, r in samples],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-s", type=float, default=20.0, help="real-time seconds for the latency run")
    ap.add_argument("--cpu-s", type=float, default=10.0, help="real-time seconds for the CPU run")
    ap.add_argument("--hours", type=float, default=1.0, help="simulated hours for the memory run")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs (shared: timings are noisy)")
    results = {}
    print(
        f"\n[1] capture -> window latency, {WIDTH}x{HEIGHT}@{FPS:g} + {AUDIO_RATE_HZ} Hz x{CHANNELS}, "
        f"window {DEFAULT_WINDOW_S:g} s hop {DEFAULT_HOP_S:g} s, {args.latency_s:g} s real time"
    )
    results["latency"] = r = bench_latency(args.latency_s)
    for k, v in r.items():
        print(f"  {k:32s} {v if not isinstance(v, float) else round(v, 2)}")
    print(f"\n[2] CPU cost of capture, {args.cpu_s:g} s real time")
    results["cpu"] = r = bench_cpu(args.cpu_s)
    for k, v in r.items():
        print(f"  {k:32s} {v}")
    print(f"\n[3] resident memory over {args.hours:g} simulated hour(s)")
    results["memory"] = r = bench_memory(args.hours)
    for k, v in r.items():
        if k != "rss_samples":
            print(f"  {k:32s} {v}")
    print("  rss by simulated minute:", ", ".join(f"{t // 60}m {m}" for t, m in r["rss_samples"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
