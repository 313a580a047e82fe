"""The app as users and scripts start it: ``python main.py --source demo --quit-after S --screenshot PNG``
under a real X server (Xvfb, xcb platform), and clear exit codes for bad flags."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from desktop.app import run_app
from tests.conftest import ROOT
from tests.support.xvfb import XvfbDisplay, xvfb_available


def test_bad_source_and_model_flags_exit_2_with_the_fix(capsys, tmp_path):
    assert run_app(["--source", str(tmp_path / "missing.mp4")]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "demo" in err
    assert run_app(["--source", "demo", "--model", str(tmp_path / "nowhere")]) == 2
    assert "python main.py download" in capsys.readouterr().err
    assert run_app(["--quit-after", "0"]) == 2
    assert run_app(["--source", "camera:x"]) == 2 and "camera:N" in capsys.readouterr().err
    for flags in (["--source", "camera:0"], ["--source", "demo"]):  # a camera; no model
        assert run_app([*flags, "--every-window"]) == 2
        assert "--every-window needs a media file as --source and a --model" in capsys.readouterr().err
    assert run_app(["--model", "http://192.0.2.7:8765"]) == 2  # a server: checked before the window is built
    assert "--model: refusing plain http" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.xvfb
@pytest.mark.skipif(not xvfb_available(), reason="Xvfb not installed: apt-get install xvfb xauth")
def test_demo_run_under_xvfb_saves_a_screenshot(tmp_path):
    shot = tmp_path / "out.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "R1OMNI_LIVE_CONFIG_DIR": str(tmp_path / "config")}
    with XvfbDisplay() as display:
        env["DISPLAY"] = display
        proc = subprocess.run(
            [sys.executable, "main.py", "--source", "demo", "--quit-after", "6", "--screenshot", str(shot)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    image = np.asarray(Image.open(shot).convert("RGB"))
    h, w, _ = image.shape
    assert w >= 1000 and h >= 700
    # a real picture, not a blank grab: many distinct colours (video, label colours, text)
    assert len(np.unique(image.reshape(-1, 3)[::97], axis=0)) > 200
    assert (tmp_path / "config" / "settings.json").exists()  # settings saved on the way out, in tmp only
