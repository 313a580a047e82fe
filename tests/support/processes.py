"""Stopping the helper processes the tests start (ffmpeg streams, Xvfb, PulseAudio)."""

from __future__ import annotations

import subprocess

STOP_TIMEOUT_S = 5.0


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM, wait up to STOP_TIMEOUT_S, then SIGKILL; closes its pipes. ``None`` is a no-op."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
