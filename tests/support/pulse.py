"""A private PulseAudio daemon with a virtual microphone, for tests that capture through the real audio stack.

``PulseServer`` starts ``pulseaudio`` with its own ``XDG_RUNTIME_DIR`` and ``HOME`` (nothing touches the user's
sound set-up), a null sink and a ``module-pipe-source`` named ``vmic`` fed from a FIFO. ``feed`` writes PCM into
the FIFO in real time from a thread, so the source delivers it like a microphone would (bit-exact at its own rate).
This process is pointed at the daemon through ``PULSE_SERVER`` and PortAudio is re-scanned, so
``sounddevice`` lists its ``pulse`` and ``default`` ALSA devices.

Use the ``pulse_server`` fixture from ``tests.support.fixtures``; it skips (with the reason) only when
``pulseaudio`` is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

VMIC = "vmic"
VMIC_RATE_HZ = 16_000
FEED_CHUNK_S = 0.02
START_TIMEOUT_S = 10.0


def pulseaudio_available() -> bool:
    return shutil.which("pulseaudio") is not None and shutil.which("pactl") is not None


class PulseServer:
    """Start/stop a private daemon; ``feed(samples)`` plays float32 mono at VMIC_RATE_HZ into the virtual mic."""

    def __init__(self, rate_hz: int = VMIC_RATE_HZ) -> None:
        self.rate_hz = rate_hz
        self.dir = Path(tempfile.mkdtemp(prefix="pa", dir="/tmp"))  # short: unix socket paths are limited
        self.fifo = self.dir / "vmic.fifo"
        self.socket = self.dir / "pulse" / "native"
        self._env = dict(os.environ, XDG_RUNTIME_DIR=str(self.dir), HOME=str(self.dir))
        self._env.pop("PULSE_SERVER", None)
        self._saved_env: dict[str, str | None] = {}
        self._feeder: threading.Thread | None = None
        self._fifo_fd: int | None = None
        self._extra_fds: list[int] = []
        self.fed_at: list[tuple[float, int]] = []  # (time.monotonic() when written, sample index) per chunk

    def start(self) -> PulseServer:
        cmd = [
            "pulseaudio",
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "-n",
            "--use-pid-file=yes",
            "--disable-shm=yes",
            f"--log-target=file:{self.dir / 'pulse.log'}",
            "--load=module-native-protocol-unix auth-anonymous=1",
            "--load=module-null-sink sink_name=vspeaker",
            f"--load=module-pipe-source source_name={VMIC} file={self.fifo} format=s16le rate={self.rate_hz} "
            "channels=1",
            "--load=module-always-sink",
        ]
        subprocess.run(cmd, env=self._env, check=True, capture_output=True, timeout=START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self.socket.exists() and self.fifo.exists()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not come up; log:\n{self.log()}")
            time.sleep(0.05)
        self.pactl("set-default-source", VMIC)
        # the writer end of the FIFO, opened non-blocking-safe: the daemon holds the reader end
        self._fifo_fd = os.open(self.fifo, os.O_WRONLY)
        for key, value in (
            ("PULSE_SERVER", f"unix:{self.socket}"),
            ("PULSE_SINK", "vspeaker"),
            ("PULSE_SOURCE", VMIC),
        ):
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        from core.capture.devices import rescan_audio_devices

        rescan_audio_devices()
        return self

    def pactl(self, *args: str) -> str:
        out = subprocess.run(["pactl", *args], env=self._env, capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def log(self) -> str:
        try:
            return (self.dir / "pulse.log").read_text()
        except OSError:
            return ""

    def add_source(self, name: str, description: str) -> int:
        """Another pipe source, ``name`` described as ``description`` (as a USB microphone is named by the
        server). Returns the writer fd of its FIFO for ``feed(..., fd=)``; closed by ``stop``."""
        fifo = self.dir / f"{len(self._extra_fds)}.fifo"
        self.pactl("load-module", "module-pipe-source", f"source_name={name}", f"file={fifo}", "format=s16le",
                   f"rate={self.rate_hz}", "channels=1", f"source_properties=\"device.description='{description}'\"")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not fifo.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        fd = os.open(fifo, os.O_WRONLY)
        self._extra_fds.append(fd)
        return fd

    def feed(self, samples: np.ndarray, realtime: bool = True, fd: int | None = None) -> threading.Thread:
        """Write float32 mono samples (at ``rate_hz``) into the virtual mic (or the source whose FIFO is ``fd``),
        paced in real time, from a thread. Records ``fed_at``: when each chunk was written. Returns the (started)
        thread."""
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        chunk = int(FEED_CHUNK_S * self.rate_hz)
        self.fed_at = []

        def run() -> None:
            t0 = time.monotonic()
            for i in range(0, len(pcm), chunk):
                if realtime:
                    delay = t0 + i / self.rate_hz - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                self.fed_at.append((time.monotonic(), i))
                target = self._fifo_fd if fd is None else fd
                assert target is not None
                os.write(target, pcm[i : i + chunk].tobytes())

        self._feeder = threading.Thread(target=run, name="vmic-feed", daemon=True)
        self._feeder.start()
        return self._feeder

    def stop(self) -> None:
        if self._feeder is not None:
            self._feeder.join(30)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._fifo_fd is not None:
            os.close(self._fifo_fd)
            self._fifo_fd = None
        for fd in self._extra_fds:
            os.close(fd)
        self._extra_fds.clear()
        subprocess.run(["pulseaudio", "-k"], env=self._env, capture_output=True, timeout=10)
        pid_file = self.dir / "pulse" / "pid"
        deadline = time.monotonic() + 5
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        from core.capture.devices import rescan_audio_devices

        rescan_audio_devices()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PulseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
