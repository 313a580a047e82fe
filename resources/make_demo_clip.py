"""Make ``resources/demo.mp4``: the clip the app runs on when there is no camera.

A drawn face moves across a dark studio background, blinks, smiles in the first half and frowns in
the second, and its mouth opens with the loudness of a phrase spoken by ``espeak-ng``. It is
synthetic on purpose: nothing of a real person is shipped, and anyone can rebuild it bit for bit.

    python resources/make_demo_clip.py [--out resources/demo.mp4]

Needs ``espeak-ng`` on the PATH (Debian: ``apt-get install espeak-ng``); without it the clip is
written with silent audio and a warning says so.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import wave
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

WIDTH_PX, HEIGHT_PX = 320, 240
FPS = 30
DURATION_S = 12.0
AUDIO_RATE_HZ = 16_000
CRF = 30  # x264 quality: keeps the clip well under 1 MB
PHRASE = (
    "Hello, and welcome to the live monitor. I am really happy to see you today. "
    "But honestly, this week has been hard, and I am tired and a little upset about it."
)
BACKGROUND_BGR = (46, 38, 34)
SKIN_BGR = (150, 185, 225)
FEATURE_BGR = (40, 40, 60)


def speech(text: str, duration_s: float) -> np.ndarray:
    """float32 [duration_s * 16 kHz] mono speech from espeak-ng, zero-padded; silence without it."""
    n = int(duration_s * AUDIO_RATE_HZ)
    out = np.zeros(n, np.float32)
    exe = shutil.which("espeak-ng")
    if exe is None:
        print("warning: espeak-ng not found; the demo clip gets silent audio", file=sys.stderr)
        return out
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-s", "150", "-w", str(wav_path), text], check=True)
        with wave.open(str(wav_path)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
    t_src = np.arange(len(pcm)) / rate
    t_dst = np.arange(int(len(pcm) * AUDIO_RATE_HZ / rate)) / AUDIO_RATE_HZ
    resampled = np.interp(t_dst, t_src, pcm).astype(np.float32)
    start = int(0.5 * AUDIO_RATE_HZ)  # half a second of room tone before the first word
    take = min(len(resampled), n - start)
    out[start : start + take] = resampled[:take]
    return out


def envelope(audio: np.ndarray, n_frames: int) -> np.ndarray:
    """float32 [n_frames] RMS loudness per video frame, scaled to 0..1."""
    per = len(audio) // n_frames
    rms = np.sqrt(np.mean(audio[: per * n_frames].reshape(n_frames, per) ** 2, axis=1))
    return (rms / max(float(rms.max()), 1e-6)).astype(np.float32)


def draw_face(i: int, mouth_open: float) -> np.ndarray:
    """RGB uint8 [H, W, 3] frame ``i``: position, blink, and mood follow the frame index."""
    t = i / FPS
    img = np.full((HEIGHT_PX, WIDTH_PX, 3), BACKGROUND_BGR, np.uint8)
    cv2.rectangle(img, (0, int(HEIGHT_PX * 0.8)), (WIDTH_PX, HEIGHT_PX), (60, 52, 48), -1)
    cx = int(WIDTH_PX / 2 + 40 * np.sin(2 * np.pi * t / 6.0))
    cy = int(HEIGHT_PX / 2 + 6 * np.sin(2 * np.pi * t / 2.3))
    cv2.ellipse(img, (cx, cy + 95), (70, 40), 0, 180, 360, (90, 70, 60), -1, cv2.LINE_AA)  # shoulders
    cv2.ellipse(img, (cx, cy), (52, 66), 0, 0, 360, SKIN_BGR, -1, cv2.LINE_AA)
    blink = (t % 3.7) < 0.15
    for dx in (-20, 20):
        if blink:
            cv2.line(img, (cx + dx - 8, cy - 14), (cx + dx + 8, cy - 14), FEATURE_BGR, 2, cv2.LINE_AA)
        else:
            cv2.ellipse(img, (cx + dx, cy - 14), (8, 6), 0, 0, 360, (245, 245, 245), -1, cv2.LINE_AA)
            cv2.circle(img, (cx + dx + 1, cy - 14), 3, FEATURE_BGR, -1, cv2.LINE_AA)
    happy = t < DURATION_S / 2
    # eyebrows: inner ends raised when happy, drawn down and together when upset
    inner_dy, outer_dy = (-33, -27) if happy else (-21, -31)
    for side in (-1, 1):
        cv2.line(
            img, (cx + side * 10, cy + inner_dy), (cx + side * 30, cy + outer_dy), FEATURE_BGR, 3, cv2.LINE_AA
        )
    mouth_h = int(2 + 14 * mouth_open)
    if happy:
        cv2.ellipse(img, (cx, cy + 24), (20, 6 + mouth_h // 2), 0, 0, 180, (60, 40, 150), -1, cv2.LINE_AA)
    else:
        cv2.ellipse(img, (cx, cy + 34), (18, 4 + mouth_h // 2), 0, 180, 360, (60, 40, 150), -1, cv2.LINE_AA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_clip(path: Path, duration_s: float = DURATION_S) -> None:
    """Encode the clip: H.264 (yuv420p) video at ``FPS`` and AAC mono audio at 16 kHz."""
    n_frames = int(duration_s * FPS)
    audio = speech(PHRASE, duration_s)
    env = envelope(audio, n_frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        vs = container.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH_PX, HEIGHT_PX, "yuv420p"
        vs.options = {"crf": str(CRF), "preset": "medium"}
        aus = container.add_stream("aac", rate=AUDIO_RATE_HZ)
        aus.layout = "mono"
        aus.bit_rate = 32_000
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(draw_face(i, float(env[i])), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            container.mux(vs.encode(frame))
        container.mux(vs.encode(None))
        block = 1024  # AAC frame size in samples
        for start in range(0, len(audio), block):
            chunk = audio[start : start + block]
            if len(chunk) < block:
                chunk = np.pad(chunk, (0, block - len(chunk)))
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            af.sample_rate = AUDIO_RATE_HZ
            af.pts = start
            af.time_base = Fraction(1, AUDIO_RATE_HZ)
            container.mux(aus.encode(af))
        container.mux(aus.encode(None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo.mp4")
    parser.add_argument("--duration", type=float, default=DURATION_S, help="seconds (default %(default)s)")
    args = parser.parse_args(argv)
    write_clip(args.out, args.duration)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
