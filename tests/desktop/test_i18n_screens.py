"""The main window, a replay window and the download dialog drawn under Xvfb in English and in Simplified
Chinese (tests/desktop/shoot_windows.py): real pictures, a font that has the Chinese glyphs, no clipped label or
button. The PNGs stay in the test's tmp folder for a person to look at."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT
from tests.support.xvfb import XvfbDisplay, xvfb_available

WINDOWS = ("main", "replay", "download")


@pytest.mark.slow
@pytest.mark.xvfb
@pytest.mark.skipif(not xvfb_available(), reason="Xvfb not installed: apt-get install xvfb xauth")
@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_windows_are_drawn_whole_in_each_language(tmp_path, language):
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "R1OMNI_LIVE_CONFIG_DIR": str(tmp_path / "config")}
    with XvfbDisplay() as display:
        env["DISPLAY"] = display
        proc = subprocess.run([sys.executable, "-m", "tests.desktop.shoot_windows", str(tmp_path), language],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / f"report-{language}.json").read_text(encoding="utf-8"))
    assert report["language"] == language
    if language == "zh_CN" and not report["cjk_fonts"]:
        pytest.fail("no font with Simplified Chinese glyphs: apt-get install fonts-noto-cjk (packaging/run.sh does)")
    assert report["clipped"] == {name: [] for name in WINDOWS}
    for name in WINDOWS:
        image = np.asarray(Image.open(tmp_path / f"{name}-{language}.png").convert("RGB"))
        assert image.shape[0] > 300 and image.shape[1] > 500, name
        assert len(np.unique(image.reshape(-1, 3)[::53], axis=0)) > 20, name  # drawn, not a blank grab
