"""Peak memory of ``analyze``'s decode on a huge clip next to a small one (a script, not a test: it prints numbers).

``analyze`` and ``evaluate`` decode a clip with ``read_clip(path, frames="sampled", model_px=224)``: the 8 frames the
model samples, each reduced as it is converted to RGB, a strip of rows at a time (``core.clip_decode``). This makes
an 8000x8000 and a 640x480 clip (2 s at 5 fps, H.264 + AAC, with ffmpeg) and decodes each in a fresh process, once
as analyze does and once at full size (``model_px=None``, what analyze did before), printing the peak resident
memory and the time of each, and the process's resident memory before decoding (Python + numpy + PyAV imported).

    python bench/decode_memory.py [--size 8000] [--keep DIR]

Numbers from a shared machine are noisy in time, not in memory. Needs ffmpeg on the PATH.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIP_S, CLIP_FPS = 2, 5
SMALL = (640, 480)

# Runs in a fresh interpreter so that each figure is that decode's own peak (ru_maxrss never goes down).
_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from core.clip_decode import MODEL_INPUT_PX, read_clip
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
clip = read_clip({path!r}, frames="sampled", model_px=MODEL_INPUT_PX if {reduced} else None)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"before_mib": before, "peak_mib": peak, "seconds": seconds, "frames": list(clip.frames.shape)}}))
"""


def make_clip(path: Path, width: int, height: int) -> Path:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={CLIP_FPS}:duration={CLIP_S}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={CLIP_S}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True, timeout=600,
    )
    return path


def measure(path: Path, reduced: bool) -> dict:
    code = _CHILD.format(root=str(ROOT), path=str(path), reduced=reduced)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=8000, help="side of the huge square clip (default 8000)")
    parser.add_argument("--keep", type=Path, default=None, help="make the clips in DIR and keep them")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is not on the PATH: apt-get install ffmpeg", file=sys.stderr)
        return 1
    work = args.keep or Path(tempfile.mkdtemp(prefix="decode-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        clips = {f"{w}x{h}": make_clip(work / f"clip_{w}x{h}.mp4", w, h) for w, h in (SMALL, (args.size, args.size))}
        rows = []
        print(f"{'clip':>10} {'decode':>18} {'before MiB':>10} {'peak MiB':>9} {'seconds':>8}  kept frames")
        for name, path in clips.items():
            for reduced in (True, False):
                r = measure(path, reduced)
                mode = "as analyze (224)" if reduced else "full size (old)"
                rows.append((name, reduced, r))
                print(f"{name:>10} {mode:>18} {r['before_mib']:>10.0f} {r['peak_mib']:>9.0f} {r['seconds']:>8.2f}"
                      f"  {r['frames']}")
        peak = {(n, red): r["peak_mib"] for n, red, r in rows}
        small, big = f"{SMALL[0]}x{SMALL[1]}", f"{args.size}x{args.size}"
        print(f"\nas analyze decodes: {big} peaks at {peak[(big, True)] / peak[(small, True)]:.1f}x the memory of "
              f"{small} ({peak[(big, True)]:.0f} vs {peak[(small, True)]:.0f} MiB); at full size it was "
              f"{peak[(big, False)] / peak[(big, True)]:.1f}x more ({peak[(big, False)]:.0f} MiB).")
        print("What remains above the small clip is the H.264 decoder's own full-size pictures (reference, current,"
              " ~1.5 bytes/pixel each), which no reader can avoid, and the bigger kept frames (8 x 1000 x 1000).")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
