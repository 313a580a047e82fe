"""Hostile and careless inputs for the command line, made on the spot under a test's folder: an empty file, a text
file named .mp4, an mp4 cut inside its header, an mp4 whose data is cut half-way (header intact), a folder, a FIFO,
an audio-only file, a device node."""

from __future__ import annotations

import fractions
import os
from pathlib import Path

import av
import numpy as np

from tests.support.media import make_video, tone

DEVICE = "/dev/zero"  # reading it never ends


def audio_only(path: Path, seconds: float = 2.0) -> Path:
    """An .m4a with one AAC track and no video."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        samples = tone(seconds)
        for i in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, i : i + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16_000, i, fractions.Fraction(1, 16_000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def damaged_half_way(path: Path, tmp: Path) -> Path:
    """An mp4 with its index first (faststart) and its data cut at 40 %: it opens, then decoding fails."""
    full = make_video(tmp / "full.mp4", seconds=4.0, fps=15, audio=True)
    fast = tmp / "fast.mp4"
    with av.open(str(full)) as src, av.open(str(fast), "w", options={"movflags": "+faststart"}) as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        for packet in src.demux(list(src.streams)):
            if packet.dts is None or packet.stream.index not in streams:
                continue
            packet.stream = streams[packet.stream.index]
            dst.mux(packet)
    data = fast.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.4)])
    return path


def make_all(folder: Path) -> dict[str, Path]:
    """name -> path of each hostile input (the FIFO is created here; nobody ever writes to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = make_video(folder / "good.mp4", seconds=1.0, audio=True)
    cases = {
        "empty": folder / "empty.mp4",
        "text": folder / "notes.mp4",
        "header_cut": folder / "header_cut.mp4",
        "folder": folder / "clips",
        "fifo": folder / "pipe.mp4",
        "audio_only": audio_only(folder / "voice.m4a"),
        "damaged": damaged_half_way(folder / "damaged.mp4", folder),
        "device": Path(DEVICE),
    }
    cases["empty"].write_bytes(b"")
    cases["text"].write_text("these are my notes, not a video\n")
    cases["header_cut"].write_bytes(good.read_bytes()[:200])
    cases["folder"].mkdir(exist_ok=True)
    os.mkfifo(cases["fifo"])
    return cases


def is_damaged_decodable_prefix(path: Path) -> bool:
    """Sanity check of ``damaged_half_way``: the header opens (so the failure comes from decoding)."""
    with av.open(str(path)) as c:
        return bool(c.streams.video) and np.isfinite(float(c.duration or 0))
