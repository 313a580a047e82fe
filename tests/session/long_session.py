"""A long recorded session at accelerated time: memory stays flat and the log stays complete.

    python -m tests.session.long_session [--minutes 60] [--fps 10] [--size 160x120]

Feeds a SessionWriter with synthetic frames, 16 kHz audio, a result every hop (with its window's
frames kept) and a marker a minute, as fast as the writer keeps up (the feeder waits while the media
queue is over half full, so nothing is dropped and the numbers measure the writer). Prints RSS and
throughput per simulated interval and checks the bundle afterwards. The test suite runs a short
version (tests/session/test_long_session.py).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.process_stats import rss_mib
from core.results import AnalysisResult, WindowResult
from core.session import RecordOptions, SessionManifest, SessionReader, SessionWriter
from core.window import MODEL_SAMPLE_RATE_HZ, Window

AUDIO_BLOCK_S = 0.1
WINDOW_S, HOP_S = 4.0, 2.0


@dataclass
class LongRun:
    directory: Path
    minutes: float
    wall_s: float
    rss_mib: list[tuple[float, float]]  # (session minute, RSS MiB)
    windows_expected: int
    windows_logged: int
    markers_logged: int
    dropped_media: int
    bytes_written: int
    complete: bool


def run(
    directory: Path,
    minutes: float = 60.0,
    fps: float = 10.0,
    size: tuple[int, int] = (160, 120),
    report_every_min: float = 5.0,
    verbose: bool = True,
) -> LongRun:
    w_px, h_px = size
    writer = SessionWriter(
        directory,
        SessionManifest(clock_origin_wall=time.time(), window_s=WINDOW_S, hop_s=HOP_S, instruction="bench"),
        RecordOptions(max_queue_bytes=16 << 20),
    )
    assert writer.start(), writer.error
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h_px, w_px, 3), dtype=np.uint8)
    block = (0.2 * np.sin(np.arange(round(AUDIO_BLOCK_S * MODEL_SAMPLE_RATE_HZ)) / 7)).astype(np.float32)
    total_s = minutes * 60
    frame_dt = 1.0 / fps
    t_frame = t_audio = 0.0
    next_hop = WINDOW_S
    wid = 0
    history: list[tuple[float, np.ndarray]] = []  # the last window's frames (what a ring buffer would hold)
    rss = [(0.0, rss_mib())]
    next_report = report_every_min * 60
    t_wall = time.perf_counter()
    while t_frame < total_s:
        while writer.stats.queued_media_bytes > (8 << 20) or writer.stats.queued_log > 4:
            time.sleep(0.002)  # keep pace with the writer rather than drop (measures its throughput)
        frame = np.roll(base, int(t_frame * 10), axis=1)
        writer.write_frame(frame, t_frame)
        history.append((t_frame, frame))
        history = [(t, f) for t, f in history if t >= t_frame - WINDOW_S]
        while t_audio < t_frame + frame_dt:
            writer.write_audio(block, t_audio)
            t_audio += AUDIO_BLOCK_S
        t_frame += frame_dt
        if t_frame >= next_hop:
            t0 = next_hop - WINDOW_S
            times = np.array([t for t, _ in history if t >= t0])
            frames = np.stack([f for t, f in history if t >= t0])
            win = Window(wid, t0, next_hop, frames, times, None, "missing")
            a = AnalysisResult(
                (1, 2),
                "<think>steady</think><answer>neutral</answer>",
                "steady",
                "neutral",
                "neutral",
                "ok",
                "dfew",
                "video",
                {"neutral": 0.9, "happy": 0.1},
                {"total": 1.0},
            )
            writer.write_result(WindowResult(wid, t0, next_hop, 0.0, a, "missing", next_hop + 1.0), win)
            wid += 1
            next_hop += HOP_S
            if int(next_hop) % 60 == 0:
                writer.add_marker("event", f"minute {int(next_hop) // 60}", t=next_hop)
        if t_frame >= next_report:
            rss.append((t_frame / 60, rss_mib()))
            if verbose:
                s = writer.stats
                print(
                    f"session {t_frame / 60:5.1f} min  wall {time.perf_counter() - t_wall:6.1f} s  "
                    f"RSS {rss[-1][1]:7.1f} MiB  written {s.bytes_written / 2**20:7.1f} MiB  "
                    f"windows {s.windows_written}  dropped {s.dropped_frames + s.dropped_audio_blocks}",
                    flush=True,
                )
            next_report += report_every_min * 60
    writer.stop()
    wall = time.perf_counter() - t_wall
    rss.append((total_s / 60, rss_mib()))
    r = SessionReader(directory)
    s = writer.stats
    return LongRun(
        directory,
        minutes,
        wall,
        rss,
        wid,
        len(r.windows),
        len(r.markers),
        s.dropped_frames + s.dropped_audio_blocks,
        s.bytes_written,
        r.complete,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--size", default="160x120")
    p.add_argument("--dir", type=Path, default=None)
    p.add_argument("--report-every", type=float, default=5.0, help="simulated minutes between RSS reports")
    p.add_argument("--json", action="store_true", help="print only the result as one JSON line")
    a = p.parse_args()
    size = tuple(int(v) for v in a.size.split("x"))
    directory = a.dir or Path(tempfile.mkdtemp()) / "long"
    res = run(directory, a.minutes, a.fps, size, a.report_every, verbose=not a.json)  # type: ignore[arg-type]
    if a.json:
        print(json.dumps(asdict(res) | {"directory": str(res.directory)}))
        return
    rs = [m for _, m in res.rss_mib]
    print(
        f"\n{res.minutes:g} min of session in {res.wall_s:.1f} s wall "
        f"({res.minutes * 60 / res.wall_s:.1f}x real time)"
        f"; RSS first report {rs[1]:.1f} MiB, last {rs[-1]:.1f} MiB, max {max(rs):.1f} MiB"
    )
    print(
        f"windows {res.windows_logged}/{res.windows_expected}, markers {res.markers_logged}, "
        f"dropped media {res.dropped_media}, {res.bytes_written / 2**20:.1f} MiB written, "
        f"complete {res.complete}"
        f"\nbundle: {res.directory}"
    )


if __name__ == "__main__":
    main()
