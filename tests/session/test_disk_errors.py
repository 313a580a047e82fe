"""Disk full and unwritable folders: recording stops with a message, callers go on, nothing is corrupted."""

from __future__ import annotations

import errno
import functools
import os

import av
import pytest

from core.session import RecordOptions, SessionReader, SessionWriter, layout
from core.session import events as ev
from tests.session import synth
from tests.support import waits


class DiskBudget:
    """An opener whose files share a byte budget; past it every write fails with ENOSPC, like a full disk.

    Writes that do not fit are partially written first (what a real full disk does), so the test
    also covers torn lines and torn video packets.
    """

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.full = False

    def __call__(self, path, mode):
        f = open(path, mode, buffering=0)
        budget = self

        class Limited:
            name = str(path)

            def write(self, b):
                b = bytes(b)
                if budget.full or len(b) > budget.left:
                    if not budget.full and budget.left:
                        f.write(b[: budget.left])
                    budget.full, budget.left = True, 0
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
                budget.left -= len(b)
                return f.write(b)

            def __getattr__(self, k):
                return getattr(f, k)

            def __enter__(self):
                return self

            def __exit__(self, *a):
                f.close()

        return Limited()


wait_for = functools.partial(waits.wait_for, timeout=10.0)  # disk errors surface on the writer's threads


@pytest.mark.parametrize(
    "budget,options",
    [
        (60_000, RecordOptions()),  # fills up on media / window frames
        (400_000, RecordOptions()),
        (9_000, RecordOptions.analysis_only()),  # fills up mid log line
    ],
)
def test_disk_full_stops_recording_cleanly_and_keeps_what_was_written(tmp_path, budget, options):
    errors = []
    disk = DiskBudget(budget)
    w = SessionWriter(tmp_path / "s", synth.manifest(), options, errors.append, opener=disk)
    assert w.start()
    written_before_full = []
    t = 0.0
    for i in range(40):  # 40 s of session; the budget runs out somewhere in it
        synth.feed(w, t, t + 1.0)
        w.write_result(synth.result(i, t, t + 1.0), synth.window(i, t, t + 1.0))
        w.add_marker("event", f"m{i}", t=t + 0.5)
        wait_for(lambda: w.stats.queued_log == 0 and w.stats.queued_media == 0 or w.error is not None, timeout=5)
        if w.error is None:
            written_before_full.append(w.stats.windows_written)
        t += 1.0
    # the caller kept running through the failure: every call above returned
    assert disk.full and len(errors) == 1, errors
    assert "No space left on device" in errors[0] and "Monitoring continues" in errors[0]
    assert w.stats.state == "failed" and w.stats.error == errors[0]
    assert w.stop()  # idempotent after a failure

    r = SessionReader(tmp_path / "s")
    assert not r.torn_tail and r.bad_lines == ()  # the torn line was cut back
    assert (tmp_path / "s" / layout.EVENTS).read_bytes().endswith(b"\n")
    got = [x["window_id"] for x in r.windows]
    assert got == list(range(len(got)))  # a prefix, in order, none skipped
    confirmed = max(written_before_full, default=0)  # windows the writer had reported as written
    assert len(got) >= confirmed
    if budget >= 400_000:
        assert confirmed >= 1
    for x in r.windows:  # every logged window's frames were written before its line
        if options.window_frames:
            times, frames = r.window_frames(x)
            assert frames.shape[0] == 8
    for seg in sorted((tmp_path / "s" / layout.VIDEO_DIR).glob("*.ts")):
        with av.open(str(seg)) as c:  # already-written video decodes (the last segment up to its tear)
            n = sum(1 for _ in c.decode(video=0))
        assert n > 0 or seg == sorted((tmp_path / "s" / layout.VIDEO_DIR).glob("*.ts"))[-1]


def test_unwritable_folder_reports_and_does_not_raise(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the session folder should go")
    errors = []
    w = SessionWriter(blocker / "session", synth.manifest(), on_error=errors.append)
    assert w.start() is False
    assert len(errors) == 1 and "could not start" in errors[0] and str(blocker) in errors[0]
    w.write_frame(synth.frame(0.0), 0.0)
    w.write_result(synth.result(0, 0.0, 1.0))
    w.add_marker("event")
    assert w.stop() and w.stats.state == "failed"
    assert blocker.read_text().startswith("a file")


def test_folder_removed_mid_recording(tmp_path):
    import shutil

    errors = []
    w = SessionWriter(
        tmp_path / "s", synth.manifest(), RecordOptions(record_video=False, record_audio=False), errors.append
    )
    w.start()
    w.write_result(synth.result(0, 0.0, 1.0), synth.window(0, 0.0, 1.0))
    assert wait_for(lambda: w.stats.windows_written == 1)
    shutil.rmtree(tmp_path / "s")
    w.write_result(synth.result(1, 1.0, 2.0), synth.window(1, 1.0, 2.0))
    assert wait_for(lambda: bool(errors))
    assert "could not write the event log" in errors[0]
    w.stop()


def test_media_failure_is_written_into_the_log(tmp_path):
    errors = []

    def opener(path, mode):
        if path.suffix == ".ts":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return open(path, mode, buffering=0)

    w = SessionWriter(
        tmp_path / "s", synth.manifest(), RecordOptions(window_frames=False), errors.append, opener=opener
    )
    w.start()
    w.write_result(synth.result(0, 0.0, 1.0))
    synth.feed(w, 0.0, 1.0)
    assert wait_for(lambda: bool(errors))
    w.stop()
    r = SessionReader(tmp_path / "s")
    assert len(r.windows) == 1
    assert "Permission denied" in r.of_type(ev.ERROR)[-1]["message"]
