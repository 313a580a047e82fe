"""The replay window (pytest-qt, offscreen): video, timeline and reasoning follow the position."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytestmark = pytest.mark.usefixtures("dark_theme")  # the app's theme and Qt guard (tests/conftest.py)

from core.session import RecordOptions, SessionReader, SessionWriter
from core.session.playback import output_device_available
from tests.session import synth

N = 6


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("replay") / "s"
    w = SessionWriter(d, synth.manifest(), RecordOptions())
    w.start()
    synth.feed(w, 0.0, N + 1.0)
    for i in range(N):
        w.write_result(synth.result(i, float(i), i + 2.0), synth.window(i, float(i), i + 2.0))
    w.add_marker("event", "door", t=2.5)
    w.add_marker("exclude", "cough", t=4.75)
    w.stop()
    return d


def _open(qtbot, path):
    from desktop.replay import ReplayWindow

    win = ReplayWindow(path)
    qtbot.addWidget(win)
    win.show()
    return win


def test_seek_shows_the_frame_and_the_window_of_that_time(qtbot, session, tmp_path):
    win = _open(qtbot, session)
    assert win.error is None and (win.start_s, win.end_s) == (0.0, pytest.approx(N + 1.0))
    assert win.timeline.span_count() == N and len(win.timeline.markers) == 2
    win.seek(3.4)
    qtbot.waitUntil(
        lambda: win.shown_frame_time() is not None and abs(win.shown_frame_time() - 3.4) < 0.1, timeout=5000
    )
    assert win.current_window_id == 3  # windows 2 (2..4) and 3 (3..5) hold 3.4 s: the later one is shown
    qtbot.waitUntil(lambda: win.evidence.window_id == 3, timeout=5000)
    assert "window #3" in win.evidence.header.text() and "angry" in win.evidence.header.text()
    assert win.evidence.thumbs[0].pixmap() is not None and not win.evidence.thumbs[0].pixmap().isNull()
    assert "03.4" in win.time_label.text()
    win.grab().save(str(tmp_path / "replay.png"))
    assert (tmp_path / "replay.png").stat().st_size > 10_000


def test_markers_jump_and_playback_advances(qtbot, session):
    win = _open(qtbot, session)
    win.seek(0.0)
    win.next_marker()
    assert win.position == 2.5
    win.next_marker()
    assert win.position == 4.75
    win.next_marker()
    assert win.position == 4.75  # no marker later
    win.previous_marker()
    assert win.position == 2.5
    win.marker_box.activated.emit(2)
    assert win.position == 4.75

    win.seek(1.0)
    win.play()
    qtbot.waitUntil(lambda: win.position > 1.5, timeout=5000)
    assert win.playing and win.slider.value() >= 15
    qtbot.waitUntil(lambda: win.shown_frame_time() is not None and win.shown_frame_time() > 1.4, timeout=5000)
    win.pause()
    p = win.position
    qtbot.wait(150)
    assert win.position == p and not win.playing
    if not output_device_available():
        assert "video only" in win.note.text()


def test_clicking_a_span_seeks_to_its_window(qtbot, session):
    win = _open(qtbot, session)
    win.timeline.window_selected.emit(4)
    assert win.position == 4.0 and win.current_window_id == 4


def test_a_folder_that_is_not_a_session_shows_why_without_raising(qtbot, tmp_path):
    win = _open(qtbot, tmp_path)
    assert win.error and "is not a session" in win.error_label.text()
    win.close()


def test_a_crashed_session_replays_and_says_so(qtbot, tmp_path):
    w = SessionWriter(tmp_path / "c", synth.manifest(), RecordOptions())
    w.start()
    synth.feed(w, 0.0, 3.0)
    w.write_result(synth.result(0, 0.0, 2.0), synth.window(0, 0.0, 2.0))
    qtbot.waitUntil(lambda: w.stats.windows_written == 1 and w.stats.queued_media == 0, timeout=5000)
    # no stop(): the bundle looks like one left by a killed process (the threads are daemons)
    win = _open(qtbot, tmp_path / "c")
    assert "did not end cleanly" in win.note.text()
    win.seek(1.0)
    qtbot.waitUntil(lambda: win.shown_frame_time() is not None, timeout=5000)
    w.stop()


def test_a_reanalysis_says_how_many_windows_disagree(qtbot, session, tmp_path):
    from core.session.reanalysis import compare, reanalyze
    from tests.session.test_reanalysis import BrightnessModel

    re = session.parent / "s-reanalysis"  # next to its original: where replay looks for it (SECURITY.md)
    reanalyze(session, BrightnessModel(), out_dir=re)
    cmp = compare(session, re)
    win = _open(qtbot, re)
    assert f"{len(cmp.disagreements)} of {cmp.common} windows disagree" in win.note.text()
    assert win.timeline.span_count() == N
    # the re-analysis kept no media: the original's video and kept frames are shown
    win.seek(2.5)
    qtbot.waitUntil(
        lambda: win.shown_frame_time() is not None and abs(win.shown_frame_time() - 2.5) < 0.1, timeout=5000
    )
    qtbot.waitUntil(lambda: win.evidence.window_id == 2, timeout=5000)
    assert not win.evidence.thumbs[0].pixmap().isNull()
    new_label = next(w for w in SessionReader(re).windows if w["window_id"] == 2)["label"]
    assert new_label in win.evidence.header.text()


def test_export_from_the_replay_window_runs_off_the_ui_thread(qtbot, session, tmp_path, monkeypatch):
    import csv
    import io
    import threading

    import desktop.replay as replay_mod
    from core.session import export as ex

    written_on = []

    def spy(*args, **kwargs):
        written_on.append(threading.current_thread().name)
        return ex.export_session(*args, **kwargs)

    monkeypatch.setattr(replay_mod, "export_session", spy)
    win = _open(qtbot, session)
    with qtbot.waitSignal(win.export_finished, timeout=10000) as done:
        assert win.export("csv", tmp_path / "out" / "session.csv")
    path, error = done.args
    assert error == "" and path == str(tmp_path / "out" / "session.csv")
    assert written_on == ["session-export"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "session.csv").read_text())))
    assert len(rows) == N
    assert "Exported to" in win.note.text()

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with qtbot.waitSignal(win.export_finished, timeout=10000) as failed:
        assert win.export("html", blocked / "report.html")  # a file where the folder should be
    assert failed.args[0] == "" and "Choose another folder" in failed.args[1]
    assert "Export failed" in win.note.text() and not list(tmp_path.glob("**/*.part"))
