"""A real-time video stream over loopback TCP (ffmpeg's test pattern as MPEG-TS), for tests that read through
``cv2.VideoCapture`` exactly as they would read an IP camera. ``stop()`` simulates the camera going away;
``start()`` again (same port) brings it back."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

from tests.support.processes import stop_process


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class FfmpegTestStream:
    """``ffmpeg -re -f lavfi -i testsrc2`` served at ``url`` (tcp, listen mode: one client per start)."""

    def __init__(self, size: tuple[int, int] = (320, 240), fps: int = 15, port: int | None = None) -> None:
        self.size, self.fps = size, fps
        self.port = port or free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> FfmpegTestStream:
        w, h = self.size
        cmd = [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={w}x{h}:rate={self.fps}",
            "-c:v",
            "mpeg4",
            "-q:v",
            "5",
            "-f",
            "mpegts",
            f"{self.url}?listen=1",
        ]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while not self._listening():  # wait until ffmpeg listens (without connecting: one client only)
            if self._proc.poll() is not None:
                raise RuntimeError(f"ffmpeg stream exited: {self._proc.stderr.read().decode()[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("ffmpeg stream did not start listening")
            time.sleep(0.05)
        return self

    def _listening(self) -> bool:
        try:
            with open("/proc/net/tcp") as f:
                hex_port = f"{self.port:04X}"
                return any(
                    line.split()[1].endswith(":" + hex_port) and line.split()[3] == "0A"
                    for line in f.readlines()[1:]
                )
        except OSError:  # not Linux: fall back to a short sleep
            time.sleep(0.5)
            return True

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)
