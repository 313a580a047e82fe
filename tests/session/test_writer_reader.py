"""Recording a bundle with SessionWriter and reading it back with SessionReader."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from core.model.preprocess import frame_indices
from core.session import RecordOptions, SessionReader, SessionWriter, layout
from core.session import events as ev
from tests.session import synth


def record(tmp_path, options=None, n_windows=3, **kw):
    errors = []
    w = SessionWriter(tmp_path / "s", synth.manifest(), options or RecordOptions(), errors.append, **kw)
    assert w.start()
    synth.feed(w, 0.0, n_windows + 1.0)
    for i in range(n_windows):
        w.write_result(synth.result(i, float(i), i + 2.0), synth.window(i, float(i), i + 2.0))
    w.add_marker("event", "door slams", t=1.5)
    w.add_marker("exclude", t=2.25)
    w.write_event(ev.SUPERSEDED, t=2.0, window_id=99)
    assert w.stop()
    return w, errors


def test_round_trip_of_results_markers_media_and_frames(tmp_path):
    w, errors = record(tmp_path)
    assert errors == [] and w.stats.state == "stopped"
    r = SessionReader(tmp_path / "s")
    assert r.complete and not r.torn_tail and r.bad_lines == ()
    assert r.manifest.instruction == "What emotion?" and r.manifest.labels[0] == "happy"
    assert r.manifest.recording["record_video"] is True

    wins = r.windows
    assert [x["window_id"] for x in wins] == [0, 1, 2]
    assert wins[1]["label"] == "sad" and wins[1]["t0"] == 1.0 and wins[1]["t1"] == 3.0
    assert wins[1]["wall_t1"] == pytest.approx(wins[1]["wall_t0"] + 2.0)
    assert wins[1]["scores"]["sad"] == pytest.approx(0.7) and wins[1]["timings"]["generate_s"] == 0.2
    assert [m["kind"] for m in r.markers] == ["event", "exclude"] and r.markers[0]["text"] == "door slams"
    assert r.of_type(ev.SUPERSEDED)[0]["window_id"] == 99
    seqs = [e["seq"] for e in r.events]
    assert seqs == list(range(len(seqs)))

    # the 8 frames the model saw: window 1 spans 1..3 s at 15 fps = 30 frames
    times, frames = r.window_frames(1)
    expect = 1.0 + frame_indices(30) / synth.FPS
    np.testing.assert_allclose(times, expect, atol=1e-6)
    assert frames.shape == (8, synth.H, synth.W, 3)
    for t, f in zip(times, frames):
        assert synth.brightness_time(f) == pytest.approx(t, abs=0.05)
        assert f[:, :8, 0].mean() > 200  # red stays red: RGB order kept

    # recorded video by session time
    for t in (0.0, 0.5, 1.93, 3.4):
        ft, rgb = r.frame_at(t)
        assert ft <= t + 1e-6 and t - ft < 1.5 / synth.FPS
        assert synth.brightness_time(rgb) == pytest.approx(ft, abs=0.06)
    assert r.video.t0 == pytest.approx(0.0) and r.video.t1 == pytest.approx(4.0 - 1 / synth.FPS, abs=1e-3)

    # recorded audio by session time
    pcm, covered = r.audio(1.0, 2.0)
    assert covered == 1.0 and pcm.dtype == np.float32 and len(pcm) == 16000
    np.testing.assert_allclose(pcm, synth.tone(1.0, 16000), atol=2e-4)
    _, covered = r.audio(3.5, 4.5)
    assert covered == pytest.approx(0.5, abs=0.01)
    assert r.span == (0.0, pytest.approx(4.0))


def test_stop_is_idempotent_and_calls_after_stop_are_ignored(tmp_path):
    w, _ = record(tmp_path, n_windows=1)
    n = len(SessionReader(tmp_path / "s").events)
    assert w.stop() and w.stop(wait=False)
    w.write_result(synth.result(5, 5.0, 7.0))
    w.add_marker("custom", "late")
    w.write_frame(synth.frame(9.0), 9.0)
    assert len(SessionReader(tmp_path / "s").events) == n


def test_pause_skips_media_and_results_but_keeps_markers(tmp_path):
    w = SessionWriter(tmp_path / "s", synth.manifest(), RecordOptions(window_frames=False))
    w.start()
    synth.feed(w, 0.0, 1.0)
    w.write_result(synth.result(0, 0.0, 1.0))
    w.pause(t=1.0)
    synth.feed(w, 1.0, 2.0)
    w.write_result(synth.result(1, 1.0, 2.0))
    w.add_marker("custom", "while paused", t=1.5)
    w.resume(t=2.0)
    synth.feed(w, 2.0, 3.0)
    w.write_result(synth.result(2, 2.0, 3.0))
    w.stop()
    r = SessionReader(tmp_path / "s")
    assert [x["window_id"] for x in r.windows] == [0, 2]
    assert r.markers[0]["text"] == "while paused"
    assert [e["type"] for e in r.of_type(ev.RECORDING_PAUSED, ev.RECORDING_RESUMED)] == [
        ev.RECORDING_PAUSED,
        ev.RECORDING_RESUMED,
    ]
    assert w.stats.skipped_paused > 15
    _, covered = r.audio(1.1, 1.9)
    assert covered == 0.0
    ft, _ = r.frame_at(1.9)
    assert ft < 1.0


def test_analysis_only_and_drop_audio(tmp_path):
    w = SessionWriter(tmp_path / "a", synth.manifest(), RecordOptions.analysis_only())
    w.start()
    synth.feed(w, 0.0, 2.0)
    w.write_result(synth.result(0, 0.0, 2.0), synth.window(0, 0.0, 2.0))
    w.stop()
    r = SessionReader(tmp_path / "a")
    assert len(r.windows) == 1 and r.window_frames(0) is None
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [layout.EVENTS, layout.MANIFEST]

    w = SessionWriter(tmp_path / "b", synth.manifest(), RecordOptions(record_audio=False))
    w.start()
    synth.feed(w, 0.0, 2.0)
    w.stop()
    r = SessionReader(tmp_path / "b")
    assert r.has_video and not r.has_audio and not (tmp_path / "b" / layout.AUDIO_DIR).exists()


def test_callers_never_wait_for_a_slow_disk_and_results_are_never_dropped(tmp_path):
    gate = threading.Event()

    def slow_opener(path, mode):
        f = open(path, mode, buffering=0)
        if path.suffix == ".ts":  # the video stalls until released
            real = f.write

            class Slow:
                name = str(path)

                def write(self, b):
                    gate.wait(10)
                    return real(b)

                def __getattr__(self, k):
                    return getattr(f, k)

            return Slow()
        return f

    w = SessionWriter(
        tmp_path / "s",
        synth.manifest(),
        RecordOptions(max_queue_bytes=20 * synth.H * synth.W * 3, window_frames=False),
        opener=slow_opener,
    )
    w.start()
    import time

    t_start = time.perf_counter()
    synth.feed(w, 0.0, 6.0)  # 90 frames; the writer is stuck on the first
    for i in range(5):
        w.write_result(synth.result(i, float(i), i + 1.0))
    w.add_marker("event", t=3.0)
    elapsed = time.perf_counter() - t_start
    assert elapsed < 2.0, f"callers waited {elapsed:.2f} s on a stalled disk"
    deadline = time.monotonic() + 5
    while w.stats.windows_written < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert w.stats.windows_written == 5  # results jumped the stuck media queue
    s = w.stats
    assert s.dropped_frames >= 60 and s.queued_media_bytes <= 20 * synth.H * synth.W * 3
    gate.set()
    w.stop()
    r = SessionReader(tmp_path / "s")
    assert len(r.windows) == 5 and len(r.markers) == 1
    dropped = r.of_type(ev.MEDIA_DROPPED)
    assert dropped and dropped[-1]["total_frames"] == s.dropped_frames


def test_torn_last_line_is_skipped_and_reported(tmp_path):
    record(tmp_path, n_windows=2)
    log = tmp_path / "s" / layout.EVENTS
    n = len(SessionReader(tmp_path / "s").events)
    with open(log, "ab") as f:
        f.write(b'{"seq": 99, "type": "window", "t0": 1')
    r = SessionReader(tmp_path / "s")
    assert r.torn_tail and len(r.events) == n and len(r.windows) == 2


def test_a_folder_that_holds_a_session_is_never_overwritten(tmp_path):
    record(tmp_path, n_windows=1)
    before = (tmp_path / "s" / layout.EVENTS).read_bytes()
    errors = []
    w = SessionWriter(tmp_path / "s", synth.manifest(), on_error=errors.append)
    assert not w.start()
    assert "already holds a session" in errors[0]
    assert (tmp_path / "s" / layout.EVENTS).read_bytes() == before
    assert json.loads((tmp_path / "s" / layout.MANIFEST).read_text())["instruction"] == "What emotion?"


def test_weights_fingerprint_names_the_weights(tmp_path):
    from core.session import SessionManifest, weights_fingerprint
    from tests.conftest import PARITY_DIR

    ckpt = PARITY_DIR / "checkpoint"
    a = weights_fingerprint(ckpt)
    assert a == weights_fingerprint(ckpt) and len(a) == 64
    assert weights_fingerprint(tmp_path) is None  # no weights: no fingerprint, no crash
    copy = tmp_path / "m"
    copy.mkdir()
    src = (ckpt / "bert" / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(src)
    b = weights_fingerprint(copy)
    changed = bytearray(src)
    changed[-10] ^= 0xFF  # one byte of tensor data in the last sampled MiB
    (copy / "model.safetensors").write_bytes(bytes(changed))
    assert weights_fingerprint(copy) != b
    m = SessionManifest.for_model(ckpt, clock_origin_wall=0.0, window_s=4.0, hop_s=2.0)
    assert (
        m.weights_hash == a and m.model_dir == str(ckpt.resolve()) and "safetensors" in m.weights_hash_method
    )


def test_blur_faces_blurs_the_detected_region_in_video_and_kept_frames(tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    textured = rng.integers(0, 255, (synth.H, synth.W, 3), dtype=np.uint8)
    box = (40, 20, 40, 40)  # x, y, w, h of the "face"

    def detector(gray):
        scale = gray.shape[0] / synth.H
        return np.array([[int(v * scale) for v in box]])

    w = SessionWriter(
        tmp_path / "s",
        synth.manifest(),
        RecordOptions(blur_faces=True, frame_format="png"),
        face_detector=detector,
    )
    assert w.start()
    for k in range(15):
        w.write_frame(textured, k / 15)
    win = synth.window(0, 0.0, 1.0)
    win = type(win)(
        id=0,
        t0=0.0,
        t1=1.0,
        frames=np.stack([textured] * 15),
        frame_times=win.frame_times,
        audio=None,
        audio_status="missing",
    )
    w.write_result(synth.result(0, 0.0, 1.0), win)
    w.stop()
    r = SessionReader(tmp_path / "s")
    x, y, bw, bh = box
    inner = (slice(y + 8, y + bh - 8), slice(x + 8, x + bw - 8))
    for rgb in (r.window_frames(0)[1][0], r.frame_at(0.5)[1]):
        detail_inside = cv2.Laplacian(cv2.cvtColor(rgb[inner], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
        detail_outside = cv2.Laplacian(cv2.cvtColor(rgb[:, 90:], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
        assert detail_inside < detail_outside / 20, (detail_inside, detail_outside)
    assert r.manifest.recording["blur_faces"] is True


def test_blur_faces_without_a_detector_file_refuses_to_record_unblurred(tmp_path, monkeypatch):
    from core import faces

    monkeypatch.setattr(faces, "find_face_cascade", lambda: None)
    errors = []
    w = SessionWriter(tmp_path / "s", synth.manifest(), RecordOptions(blur_faces=True), errors.append)
    assert not w.start()
    assert "face blurring is not available" in errors[0] and "opencv-data" in errors[0]
    assert not (tmp_path / "s").exists()
    # analysis-only needs no blurring: it records no pictures at all
    a = SessionWriter(tmp_path / "a", synth.manifest(), RecordOptions.analysis_only(blur_faces=True))
    assert a.start() and a.stop()


def test_a_slow_disk_drops_window_frames_never_results(tmp_path):
    gate = threading.Event()

    def opener(path, mode):
        if path.suffix == ".jpg":
            gate.wait(10)  # the window frames' disk stalls
        return open(path, mode, buffering=0)

    evidence_bytes = 8 * synth.H * synth.W * 3
    w = SessionWriter(
        tmp_path / "s",
        synth.manifest(),
        RecordOptions(record_video=False, record_audio=False, max_queue_bytes=3 * evidence_bytes),
        opener=opener,
    )
    w.start()
    import time

    t0 = time.perf_counter()
    for i in range(10):
        w.write_result(synth.result(i, float(i), i + 2.0), synth.window(i, float(i), i + 2.0))
    assert time.perf_counter() - t0 < 1.0  # the model worker never waits
    gate.set()
    w.stop()
    r = SessionReader(tmp_path / "s")
    assert [x["window_id"] for x in r.windows] == list(range(10))
    kept = [x for x in r.windows if x.get("frames")]
    dropped = [x for x in r.windows if x.get("frames_dropped")]
    assert len(kept) + len(dropped) == 10 and 1 <= len(kept) <= 4
    assert w.stats.dropped_window_frames == len(dropped)
    assert all(r.window_frames(x)[1].shape[0] == 8 for x in kept)


def test_faces_in_view_survive_the_log(tmp_path):
    from core.session.reader import window_result

    w = SessionWriter(tmp_path / "s", synth.manifest(), RecordOptions.analysis_only())
    assert w.start()
    for i in range(len(synth.FACES)):
        w.write_result(synth.result(i, float(i), i + 2.0))
    assert w.stop()
    rebuilt = [window_result(x) for x in SessionReader(tmp_path / "s").windows]
    assert [r.faces for r in rebuilt] == list(synth.FACES)
    assert [r.face_check.status if r.face_check else None for r in rebuilt] == ["one", "several", "none", None]
