"""Synthetic session material for the session tests: frames, audio, windows and results."""

from __future__ import annotations

import time

import numpy as np

from core.results import AnalysisResult, WindowResult
from core.session import SessionManifest
from core.window import MODEL_SAMPLE_RATE_HZ, Window

FPS = 15
H, W = 96, 128
LABELS = ("happy", "sad", "neutral", "angry")


def frame(t: float) -> np.ndarray:
    """A frame whose mean brightness encodes its time: value = (t·40) mod 200 + 20, uint8 [H,W,3]."""
    v = int(round(t * 40)) % 200 + 20
    rgb = np.full((H, W, 3), v, np.uint8)
    rgb[:, :8, 0] = 255  # a red stripe to catch channel-order mistakes
    return rgb


def brightness_time(rgb: np.ndarray) -> float:
    """Invert ``frame`` (modulo 5 s) from the mean of the stripe-free area."""
    return (float(rgb[:, 16:, 1].mean()) - 20) / 40


def tone(t0: float, n: int, hz: float = 220.0) -> np.ndarray:
    t = t0 + np.arange(n) / MODEL_SAMPLE_RATE_HZ
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def manifest(**kw) -> SessionManifest:
    base = dict(
        clock_origin_wall=time.time(),
        window_s=2.0,
        hop_s=1.0,
        instruction="What emotion?",
        label_set="dfew",
        generation={"max_new_tokens": 24},
        devices={"camera": "synthetic"},
        usage_notice_accepted=True,
    )
    return SessionManifest(**(base | kw))


def window(wid: int, t0: float, t1: float, with_audio: bool = True) -> Window:
    times = np.arange(t0, t1 - 1e-9, 1 / FPS)
    frames = np.stack([frame(t) for t in times])
    audio = tone(t0, round((t1 - t0) * MODEL_SAMPLE_RATE_HZ)) if with_audio else None
    return Window(
        id=wid,
        t0=t0,
        t1=t1,
        frames=frames,
        frame_times=times,
        audio=audio,
        audio_status="ok" if with_audio else "missing",
        wall_t0=1_700_000_000.0 + t0,
    )


# frontal faces per model frame, by window id: one person, two, nobody facing the camera, not checked
FACES = ((1,) * 8, (1, 1, 2, 2, 2, 1, 1, 1), (0,) * 8, None)


def result(wid: int, t0: float, t1: float, label: str | None = None, status: str = "ok") -> WindowResult:
    label = label or LABELS[wid % len(LABELS)]
    think = f'Window {wid}: the speaker, says "hi", seems {label}.\nSecond line, with a comma.'
    a = AnalysisResult(
        token_ids=(1, 2, 3),
        text=f"<think>{think}</think><answer>{label}</answer>",
        think=think,
        answer=label,
        label=label,
        parse_status=status,
        label_set="dfew",
        modal="video_audio",
        scores={lab: (0.7 if lab == label else 0.1) for lab in LABELS},
        timings={"vision_s": 0.01, "generate_s": 0.2},
    )
    return WindowResult(
        window_id=wid,
        t0=t0,
        t1=t1,
        wall_t0=1_700_000_000.0 + t0,
        analysis=a,
        audio_status="ok",
        finished_at=t1 + 0.5,
        faces=FACES[wid % len(FACES)],
    )


def feed(writer, t0: float, t1: float, block_s: float = 0.1) -> None:
    """Frames at FPS and audio blocks of ``block_s`` covering [t0, t1)."""
    n_blocks = round((t1 - t0) / block_s)
    per = round(block_s * MODEL_SAMPLE_RATE_HZ)
    next_frame = t0
    for b in range(n_blocks):
        tb = t0 + b * block_s
        writer.write_audio(tone(tb, per), tb)
        while next_frame < tb + block_s - 1e-9:
            writer.write_frame(frame(next_frame), next_frame)
            next_frame += 1 / FPS
