"""A real-time paced recording driven straight through SessionWriter, for the kill test.

    python -m tests.session.paced_recorder DIR [--fps 30] [--size 320x240]

Frames and 20 ms audio blocks are written at their session times as a camera and microphone would
deliver them, plus a result (with its window's frames) every second. Each second it prints one JSON
line with the session time and the writer's counters; it runs until killed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from core.session import RecordOptions, SessionManifest, SessionWriter
from tests.session import synth

AUDIO_BLOCK_S = 0.02


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", type=Path)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--size", default="320x240")
    a = p.parse_args()
    w_px, h_px = (int(v) for v in a.size.split("x"))
    origin = time.time()
    start = time.monotonic()
    clock = lambda: time.monotonic() - start  # noqa: E731
    writer = SessionWriter(
        a.dir,
        SessionManifest(clock_origin_wall=origin, window_s=2.0, hop_s=1.0),
        RecordOptions(),
        clock=clock,
    )
    assert writer.start(), writer.error
    noise = np.random.default_rng(0).integers(0, 40, (h_px, w_px, 3), dtype=np.uint8)
    t_frame = t_audio = 0.0
    next_result, next_report, wid = 2.0, 1.0, 0
    recent: list[tuple[float, np.ndarray]] = []
    while True:
        now = clock()
        while t_audio + AUDIO_BLOCK_S <= now:
            writer.write_audio(synth.tone(t_audio, round(AUDIO_BLOCK_S * 16000)), t_audio)
            t_audio += AUDIO_BLOCK_S
        if t_frame <= now:
            frame = noise + np.uint8(int(t_frame * 40) % 200)
            writer.write_frame(frame, t_frame)
            recent = [(t, f) for t, f in recent if t >= t_frame - 2.0] + [(t_frame, frame)]
            t_frame += 1.0 / a.fps
        if now >= next_result:
            times = np.array([t for t, _ in recent])
            frames = np.stack([f for _, f in recent])
            writer.write_result(
                synth.result(wid, next_result - 2.0, next_result),
                synth.Window(
                    id=wid,
                    t0=next_result - 2.0,
                    t1=next_result,
                    frames=frames,
                    frame_times=times,
                    audio=None,
                    audio_status="missing",
                ),
            )
            wid += 1
            next_result += 1.0
        if now >= next_report:
            s = writer.stats
            print(
                json.dumps(
                    {
                        "t": now,
                        "windows_written": s.windows_written,
                        "frames": s.frames_written,
                        "dropped": s.dropped_frames + s.dropped_audio_blocks,
                    }
                ),
                flush=True,
            )
            next_report += 1.0
        time.sleep(max(0.0, min(t_frame, t_audio + AUDIO_BLOCK_S) - clock()))


if __name__ == "__main__":
    sys.exit(main())
