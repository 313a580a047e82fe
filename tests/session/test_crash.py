"""Acceptance: a recording killed with SIGKILL mid-session leaves a readable bundle.

The headless monitor records a media-file source analysed by the tiny parity model; the test kills it
while it runs and then checks the log, the results and the media against the moment of the kill.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest

from core.session import SessionReader, layout
from core.session import export as ex
from core.session.media import audio_segments, consolidate
from tests.conftest import PARITY_DIR, ROOT
from tests.support.media import chirp, make_video

CLIP_S = 60.0  # longer than the test runs: the kill always lands mid-session
MEDIA_LOSS_LIMIT_S = 3.0  # the recorded media must reach to within this of the kill
RESULT_GRACE_S = 1.0  # a result printed this long before the kill must be in the log


def _read_stdout(proc: subprocess.Popen, lines: list[tuple[float, dict]]) -> None:
    for raw in proc.stdout:
        try:
            lines.append((time.time(), json.loads(raw)))
        except ValueError:
            pass


def _windows_in_log(path: Path) -> int:
    try:
        return sum(1 for line in path.read_bytes().split(b"\n") if b'"type":"window"' in line)
    except OSError:
        return 0


@pytest.mark.slow
def test_sigkill_mid_session_leaves_a_readable_bundle(tmp_path):
    clip = make_video(
        tmp_path / "clip.mp4",
        seconds=CLIP_S,
        fps=15,
        audio=chirp(CLIP_S, rate_hz=44_100),
        audio_rate_hz=44_100,
    )
    bundle = tmp_path / "session"
    cmd = [
        sys.executable,
        str(ROOT / "main.py"),
        "monitor",
        "--source",
        str(clip),
        "--model",
        str(PARITY_DIR / "checkpoint"),
        "--record",
        str(bundle),
        "--window",
        "2",
        "--hop",
        "1",
        "--max-new-tokens",
        "8",
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--no-warmup",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed: list[tuple[float, dict]] = []
    reader_thread = threading.Thread(target=_read_stdout, args=(proc, printed), daemon=True)
    reader_thread.start()
    try:
        deadline = time.monotonic() + 90
        while _windows_in_log(bundle / layout.EVENTS) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.1)
        assert _windows_in_log(bundle / layout.EVENTS) >= 3, "no windows were recorded in time"
        time.sleep(1.3)  # land the kill at an arbitrary point of the media and model work
        kill_wall = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader_thread.join(5)
    _close_pipes(proc)
    assert proc.returncode == -signal.SIGKILL

    r = SessionReader(bundle)
    assert not r.complete and r.bad_lines == ()  # no session_end: it was killed; every complete line parses
    t_kill = kill_wall - r.manifest.clock_origin_wall

    # every result the monitor had printed well before the kill is in the log, unchanged
    logged = {w["window_id"]: w for w in r.windows}
    due = [d for wall, d in printed if wall < kill_wall - RESULT_GRACE_S]
    assert due, "the monitor printed no result before the kill"
    for d in due:
        assert d["window_id"] in logged, (
            f"window {d['window_id']} printed before the kill is missing from the log"
        )
        assert logged[d["window_id"]]["text"] == d["text"] and logged[d["window_id"]]["t0"] == d["t0"]
    for w in r.windows:  # and the frames each logged window used were on disk before its line
        assert r.window_frames(w)[1].shape[0] == 8

    # the media decode up to within a few seconds of the kill
    video_end = r.video.t1
    audio_end = max(s.t1 for s in audio_segments(bundle))
    print(
        f"\nkill at session {t_kill:.2f} s; video to {video_end:.2f} s (loss {t_kill - video_end:.2f} s), "
        f"audio to {audio_end:.2f} s (loss {t_kill - audio_end:.2f} s); {len(r.windows)} windows logged, "
        f"torn last line: {r.torn_tail}"
    )
    assert t_kill - video_end < MEDIA_LOSS_LIMIT_S
    assert t_kill - audio_end < MEDIA_LOSS_LIMIT_S
    frames = 0
    for seg in sorted((bundle / layout.VIDEO_DIR).glob("*.ts")):
        with av.open(str(seg)) as c:
            frames += sum(1 for _ in c.decode(video=0))
    assert frames >= 15 * (video_end - r.video.t0) * 0.9  # ~15 fps all the way: nothing lost in between

    # a crashed bundle still exports and joins into one file
    # (csv.reader, not splitlines: the random model's text holds line-breaking control characters)
    assert len(list(csv.reader(io.StringIO(ex.to_csv(r), newline="")))) == len(r.windows) + 1
    assert consolidate(bundle).is_file()


@pytest.mark.slow
def test_sigkill_of_a_paced_writer_loses_under_half_a_second(tmp_path, run_s=3.3):
    """The writer alone (no model, no file source): what a kill costs is what sat in its queues."""
    bundle = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.session.paced_recorder", str(bundle)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed: list[tuple[float, dict]] = []
    t = threading.Thread(target=_read_stdout, args=(proc, printed), daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 30
        while (not printed or printed[-1][1]["t"] < run_s) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.02)
        time.sleep(0.37)  # off the 1 s reporting beat
        kill_wall = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    t.join(5)
    _close_pipes(proc)
    r = SessionReader(bundle)
    t_kill = kill_wall - r.manifest.clock_origin_wall
    assert r.bad_lines == () and not r.complete
    reported = max(d["windows_written"] for _, d in printed)
    assert len(r.windows) >= reported >= 1  # every window the writer had reported written is in the log
    assert [w["window_id"] for w in r.windows] == list(range(len(r.windows)))
    video_loss = t_kill - r.video.t1
    audio_loss = t_kill - max(s.t1 for s in audio_segments(bundle))
    print(
        f"\nwriter-only kill at {t_kill:.2f} s: video loss {video_loss:.3f} s, audio loss {audio_loss:.3f} s"
    )
    assert video_loss < 0.5 and audio_loss < 0.5


def _close_pipes(proc: subprocess.Popen) -> None:
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
