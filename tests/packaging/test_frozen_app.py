"""The frozen app (dist/r1omni-live) does what the source tree does: the live monitor under a real X server with
the parity model, recording a session; analyze with the same tokens as the source tree; export, evaluate,
monitor, download and bench."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core
from core.session.reader import SessionReader
from tests.conftest import PARITY_DIR, ROOT
from tests.packaging.conftest import run
from tests.support.xvfb import XvfbDisplay, xvfb_available

pytestmark = pytest.mark.slow

CHECKPOINT = PARITY_DIR / "checkpoint"
CLIP = PARITY_DIR / "clips" / "clip_a.mp4"
LIVE_S = 20  # --quit-after: the tiny model analyses several 4 s windows in this time, even on a loaded machine
MAX_UNPACKED_BYTES = 1.2e9  # the size budget of the CPU build


@pytest.fixture(scope="module")
def live_run(frozen_build, tmp_path_factory):
    """The frozen app under Xvfb: demo clip, parity model, recording, screenshot; (process, screenshot, session)."""
    if not xvfb_available():
        pytest.skip("Xvfb not installed: apt-get install xvfb xauth")
    tmp = tmp_path_factory.mktemp("frozen-live")
    shot = tmp / "shot.png"
    with XvfbDisplay():  # sets DISPLAY, which run() passes on
        proc = run([frozen_build.binary, "--source", "demo", "--model", CHECKPOINT, "--quit-after", LIVE_S,
                    "--screenshot", shot, "--record", tmp / "rec"], tmp, QT_QPA_PLATFORM="xcb")
    sessions = sorted((tmp / "rec").glob("session-*"))
    return proc, shot, sessions


def test_live_monitor_shows_video_and_records_analysed_windows(live_run):
    proc, shot, sessions = live_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "first preview frame shown" in proc.stderr
    with Image.open(shot) as shown:
        image = np.asarray(shown.convert("RGB"))
    h, w, _ = image.shape
    assert w >= 1000 and h >= 700
    # a drawn window, not a blank grab: the video, the waveform, the label colours and text
    assert len(np.unique(image.reshape(-1, 3)[::97], axis=0)) > 200

    assert len(sessions) == 1, sessions
    manifest = json.loads((sessions[0] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["app_version"] == core.__version__ and manifest["label_set"] == "dfew"
    log = SessionReader(sessions[0])  # the app's own checked reader
    windows = log.windows
    assert windows, log.problems()
    for window in windows:  # each one analysed by the model: tokens generated for a span of the session
        assert window["token_ids"] and window["t1"] > window["t0"]
        assert all((sessions[0] / frame["file"]).is_file() for frame in window["frames"])
    # OpenCV's face cascade travelled with the app: the demo clip's face is found in the frames the model saw
    assert any(n == 1 for w in windows for n in w["faces"]), [w["faces"] for w in windows]
    assert not log.problems()  # every line whole and valid, every kept frame readable


def test_export_of_the_recorded_session(live_run, frozen_build, tmp_path):
    _, _, sessions = live_run
    out = tmp_path / "windows.json"
    proc = run([frozen_build.binary, "export", sessions[0], "--format", "json", "--out", out], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    exported = data["windows"] if isinstance(data, dict) else data
    windows = SessionReader(sessions[0]).windows
    assert [w["window_id"] for w in exported] == [w["window_id"] for w in windows]
    assert [w["token_ids"] for w in exported] == [w["token_ids"] for w in windows]


def _analyze_tokens(command: list, tmp: Path) -> list[int]:
    # float32: the precision the reference was recorded in ("auto" picks bfloat16 on a CPU with AMX or AVX512-BF16)
    proc = run([*command, "analyze", CLIP, "--model", CHECKPOINT, "--max-new-tokens", "24", "--json",
                "--device", "cpu", "--dtype", "float32"], tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])["token_ids"]


def test_analyze_gives_the_source_trees_tokens(frozen_build, tmp_path):
    frozen = _analyze_tokens([frozen_build.binary], tmp_path)
    source = _analyze_tokens([sys.executable, ROOT / "main.py"], tmp_path)
    assert frozen == source
    with np.load(PARITY_DIR / "cases" / "va_mp4.npz") as z:  # and both are the reference implementation's
        assert frozen == z["gen_ids"].tolist()


def test_evaluate_writes_metrics_and_the_confusion_matrix(frozen_build, tmp_path):
    manifest = tmp_path / "clips.csv"
    manifest.write_text(f"path,label\n{CLIP},happy\n", encoding="utf-8")
    proc = run([frozen_build.binary, "evaluate", manifest, "--model", CHECKPOINT, "--out", tmp_path / "run",
                "--max-new-tokens", "8", "--device", "cpu"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["clips"]["scored"] == 1 and metrics["metrics"]["n"] == 1, metrics
    with Image.open(tmp_path / "run" / "confusion.png") as drawn:
        assert drawn.size[0] > 100  # drawn with Pillow's bundled fonts


def test_headless_monitor_prints_one_json_line_per_window(frozen_build, tmp_path):
    proc = run([frozen_build.binary, "monitor", "--source", CLIP, "--model", CHECKPOINT, "--window", "1",
                "--hop", "0.5", "--max-new-tokens", "4", "--no-warmup", "--every-window"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = [json.loads(line) for line in proc.stdout.split("\n") if line]
    assert len(printed) >= 4 and all(p["token_ids"] for p in printed)  # a 3 s clip, a window every 0.5 s


def test_download_and_bench_are_there(frozen_build, tmp_path):
    """download reaches huggingface_hub and explains the offline hub (a real download needs the internet);
    bench's code imports (its --tiny mode reads the test fixtures, which are not shipped)."""
    proc = run([frozen_build.binary, "download", "--dir", tmp_path / "weights"], tmp_path)
    assert proc.returncode == 1 and "cannot be reached" in proc.stderr and "Fix:" in proc.stderr
    proc = run([frozen_build.binary, "bench", "--help"], tmp_path)
    assert proc.returncode == 0 and "--quick" in proc.stdout, proc.stderr[-3000:]


def test_the_build_carries_no_weights_no_cuda_and_fits_its_size(frozen_build):
    app = frozen_build.path("app_dir")
    names = [p.relative_to(app).as_posix() for p in app.rglob("*")]
    assert not [n for n in names if n.endswith((".safetensors", ".bin", ".pt", ".pth"))]
    assert not [n for n in names if "/test/" in n and n.startswith("_internal/torch/")]
    if frozen_build.info["kind"] == "cpu":
        assert not [n for n in names if "nvidia/" in n or "libcudnn" in n or "libtorch_cuda" in n]
        assert frozen_build.info["unpacked_bytes"] < MAX_UNPACKED_BYTES
    assert frozen_build.info["start_up"]["frozen"]["median_s"] > 0  # measured (the number is in the report)


def test_the_build_carries_the_chinese_translations(frozen_build):
    """desktop.i18n loads resources/i18n/r1omni_zh_CN.qm next to its code and Qt's qtbase_zh_CN.qm; Qt's other
    translations stay out."""
    internal = frozen_build.path("app_dir") / "_internal"
    assert (internal / "resources" / "i18n" / "r1omni_zh_CN.qm").is_file()
    translations = internal / "PySide6" / "Qt" / "translations"
    assert (translations / "qtbase_zh_CN.qm").is_file()
    assert not (translations / "qtbase_de.qm").exists()
