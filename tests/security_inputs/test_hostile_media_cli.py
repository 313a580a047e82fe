"""Empty, truncated, mislabelled and special files given to ``analyze`` or as ``monitor --source``: a clear error
naming the problem, a non-zero exit status, and nothing hangs (a FIFO or a device is never opened)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import main
from core.clip_decode import MediaError, read_clip
from tests.conftest import PARITY_DIR, ROOT
from tests.security_inputs.hostile_media import is_damaged_decodable_prefix, make_all

MODEL = str(PARITY_DIR / "checkpoint")
HANG_S = 60  # far more than any of these needs: reaching it means something blocked
ANALYZE_SAYS = {
    "empty": "is empty", "text": "Invalid data", "header_cut": "Invalid data", "fifo": "named pipe (FIFO)",
    "audio_only": "has no video track", "damaged": "cut short", "device": "is a device",
}
MONITOR_SAYS = {
    "empty": "is empty", "text": "Invalid data", "header_cut": "Invalid data", "folder": "is a folder",
    "fifo": "named pipe (FIFO)", "audio_only": "has no video track", "device": "is a device",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return make_all(tmp_path_factory.mktemp("hostile"))


def run_main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=HANG_S, cwd=ROOT)


def test_the_damaged_case_really_opens(hostile):
    assert is_damaged_decodable_prefix(hostile["damaged"])  # so its failure comes from decoding, not the header


@pytest.mark.parametrize("case", sorted(ANALYZE_SAYS))
def test_read_clip_refuses_each_with_its_problem(hostile, case):
    with pytest.raises(MediaError, match=ANALYZE_SAYS[case].replace("(", r"\(").replace(")", r"\)")):
        read_clip(hostile[case], frames="sampled")


@pytest.mark.parametrize("case", ["empty", "text", "header_cut", "audio_only", "damaged"])
def test_analyze_exits_2_before_loading_the_model(hostile, case, capsys):
    assert main.main(["analyze", str(hostile[case]), "--model", str(hostile["folder"] / "no-model")]) == 2
    err = capsys.readouterr().err
    assert ANALYZE_SAYS[case] in err and str(hostile[case]) in err and "Traceback" not in err


@pytest.mark.parametrize("case", ["fifo", "device"])
def test_analyze_never_opens_a_fifo_or_a_device(hostile, case):
    out = run_main("analyze", str(hostile[case]), "--model", MODEL)  # in a process: a hang fails, not stalls
    assert out.returncode == 2 and ANALYZE_SAYS[case] in out.stderr


def test_analyze_of_an_empty_folder_says_so(hostile, capsys):
    assert main.main(["analyze", str(hostile["folder"]), "--model", MODEL]) == 2
    assert "no video files" in capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(MONITOR_SAYS))
@pytest.mark.parametrize("every", [False, True], ids=["live", "every-window"])
def test_monitor_refuses_an_unusable_source_before_loading_the_model(hostile, case, every):
    out = run_main("monitor", "--source", str(hostile[case]), "--model", MODEL, *(["--every-window"] if every else []))
    assert out.returncode == 2, out.stderr
    assert MONITOR_SAYS[case] in out.stderr and "Loading R1-Omni" not in out.stderr
    assert "shorter" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("text", ["concat:a.mp4|b.mp4", "file:/etc/hostname", "subfile,,start,0,end,9,,:/etc/hostname"])
def test_ffmpeg_protocol_sources_stay_refused(text, capsys):
    assert main.main(["monitor", "--source", text, "--model", MODEL]) == 2
    assert "FFmpeg protocol" in capsys.readouterr().err


def test_evaluate_refuses_a_fifo_or_a_device_as_its_dataset(hostile, capsys):
    for case in ("fifo", "device"):
        assert main.main(["evaluate", str(hostile[case]), "--model", MODEL]) == 2
        err = capsys.readouterr().err
        assert "DATASET" in err and ("named pipe" in err or "device" in err) and "Traceback" not in err
