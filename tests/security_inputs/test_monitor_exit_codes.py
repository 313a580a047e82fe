"""Headless ``monitor`` ends with a status scripts can trust and says why once: a source that fails for good (a
refused stream, a file damaged half-way) or a run without a single window exits 1, promptly; a stream's password
never reaches stdout, stderr, the log or the recorded session."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.capture.looped import make_looped_aac
from tests.conftest import PARITY_DIR, ROOT
from tests.security_inputs.hostile_media import damaged_half_way
from tests.support.streams import ffmpeg_available, free_port

MODEL = str(PARITY_DIR / "checkpoint")
SECRET = "Wr0ng-But-Secret"
pytestmark = pytest.mark.slow  # each starts the app with the parity model (seconds, more on a busy machine)
PROMPT_S = 60  # model load (~2 s) + a refused connection: reaching this means it hung


def monitor(*args: str, cwd=ROOT, timeout: float = PROMPT_S) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "monitor", "--model", MODEL, "--no-warmup",
                           "--max-new-tokens", "2", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_a_refused_stream_exits_1_promptly_saying_why_once_without_its_password(tmp_path):
    url = f"rtsp://operator:{SECRET}@127.0.0.1:{free_port()}/live"  # nothing listens there
    started = time.monotonic()
    out = monitor("--source", url, "--mic", "none", "--record", str(tmp_path / "rec"), "--accept-usage-policy")
    assert out.returncode == 1, out.stderr
    assert time.monotonic() - started < PROMPT_S
    assert out.stderr.count("cannot open stream") == 1, out.stderr
    assert "operator:***@127.0.0.1" in out.stderr
    recorded = [p.read_bytes() for p in (tmp_path / "rec").rglob("*") if p.is_file()]
    assert recorded  # the manifest and the log were written (and hold the masked URL only)
    for blob in (out.stdout, out.stderr, *(b.decode("utf-8", "replace") for b in recorded)):
        assert SECRET not in blob


def test_a_file_damaged_half_way_exits_1_and_says_where(tmp_path):
    path = damaged_half_way(tmp_path / "damaged.mp4", tmp_path)
    out = monitor("--source", str(path), "--window", "1", "--hop", "0.5")
    assert out.returncode == 1, out.stderr
    assert out.stderr.count("is damaged: decoding stopped at") == 1, out.stderr


def test_a_file_shorter_than_a_window_exits_1_with_the_fix():
    out = monitor("--source", str(PARITY_DIR / "clips" / "clip_a.mp4"), "--window", "5", "--every-window")
    assert out.returncode == 1, out.stderr
    assert "less than one 5 s window: pass a shorter --window" in out.stderr


def test_a_healthy_source_stopped_by_duration_before_a_window_exits_0_with_a_warning():
    out = monitor("--source", "synthetic", "--duration", "0.5", "--mic", "none")
    assert out.returncode == 0, out.stderr
    assert "no window was analysed within --duration 0.5 s" in out.stderr


@pytest.mark.slow
def test_every_window_of_a_looped_aac_file_is_analysed(tmp_path):
    """The file of item 14: ``ffmpeg -stream_loop 3 -i clip_a.mp4 -c:v libx264 -c:a aac``, 12.2 s; it waited forever."""
    if not ffmpeg_available():
        pytest.skip("ffmpeg not installed: apt-get install ffmpeg")
    looped = make_looped_aac(tmp_path / "looped.mp4")
    out = monitor("--source", str(looped), "--every-window", "--record", str(tmp_path / "rec"), timeout=240)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 5 and "5 of 5 windows analysed" in out.stderr  # t1 = 4, 6, 8, 10, 12 s


def test_every_window_never_waits_forever_on_a_hole_across_a_window_end(tmp_path):
    """With 3.04 s windows the first ends inside the 64 ms hole at the looped file's first seam. The run either moves
    the clock past the hole and analyses all 10 windows (a loop that follows ``Scheduler.outlook``), or ends with
    status 1 naming the hole; it never waits until it is killed."""
    if not ffmpeg_available():
        pytest.skip("ffmpeg not installed: apt-get install ffmpeg")
    looped = make_looped_aac(tmp_path / "looped.mp4")
    out = monitor("--source", str(looped), "--every-window", "--window", "3.04", "--hop", "1", timeout=240)
    if out.returncode == 0:
        assert "10 of 10 windows analysed" in out.stderr
    else:
        assert out.returncode == 1 and "a hole in its timestamps" in out.stderr, out.stderr
