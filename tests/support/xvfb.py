"""Start a private Xvfb server for tests that need a real X display (screenshots with the xcb platform)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.support.processes import stop_process

SCREEN = "1280x1024x24"


def xvfb_available() -> bool:
    return shutil.which("Xvfb") is not None


class XvfbDisplay:
    """``with XvfbDisplay() as display:`` runs Xvfb on a free display number, sets ``DISPLAY`` (and restores it)."""

    def __init__(self, screen: str = SCREEN) -> None:
        self.screen = screen
        self.display = ""
        self._proc: subprocess.Popen | None = None
        self._saved: str | None = None

    def start(self, timeout: float = 10.0) -> str:
        for number in range(90, 190):
            if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
                continue
            proc = subprocess.Popen(
                ["Xvfb", f":{number}", "-screen", "0", self.screen, "-nolisten", "tcp", "-noreset"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + timeout
            while proc.poll() is None and not Path(f"/tmp/.X11-unix/X{number}").exists():
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError("Xvfb did not start")
                time.sleep(0.05)
            if proc.poll() is None:
                self._proc, self.display = proc, f":{number}"
                self._saved = os.environ.get("DISPLAY")
                os.environ["DISPLAY"] = self.display
                return self.display
        raise RuntimeError("no free X display number for Xvfb")

    def stop(self) -> None:
        if self._saved is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = self._saved
        proc, self._proc = self._proc, None
        stop_process(proc)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
