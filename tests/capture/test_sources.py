import time

import numpy as np
import pytest

from core.capture import (
    ENDED,
    ERROR,
    RUNNING,
    STOPPED,
    CameraSource,
    MediaFileError,
    MediaFileSource,
    Source,
    SyntheticSource,
    probe,
)
from core.clock import FakeClock
from core.ring_buffer import LiveBuffer
from core.window import AUDIO_MISSING, AUDIO_OK, MODEL_SAMPLE_RATE_HZ
from tests.capture.helpers import Events, is_red, wait_for
from tests.support.media import index_of_frame, make_corrupt, make_video

SR = MODEL_SAMPLE_RATE_HZ


def dominant_hz(samples: np.ndarray, rate: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_all_sources_follow_the_protocol(tmp_path):
    for src in (SyntheticSource(), CameraSource(0), MediaFileSource(tmp_path / "x.mp4")):
        assert isinstance(src, Source)
        assert src.status().state == STOPPED


def test_synthetic_source_pumped_by_fake_clock_delivers_device_rates_at_16k():
    clock = FakeClock()
    buf = LiveBuffer(clock)
    src = SyntheticSource(320, 240, fps=30, audio="tone", audio_rate_hz=48_000, channels=2)
    src.open(buf)
    for step in range(1, 101):  # 10 s in 0.1 s steps
        clock.set(step / 10)
        src.pump(clock.now())
    status = src.status()
    assert status.frames == 301 and status.dropped_frames == 0
    assert status.fps == pytest.approx(30.0, rel=0.01)
    # 48 kHz stereo -> 16 kHz mono, minus the resampler's few samples of delay
    assert abs(status.audio_samples - 10 * SR) < 64
    w = buf.cut_window(0, 6.0, 10.0)
    assert w.audio_status == AUDIO_OK and len(w.audio) == 4 * SR
    assert dominant_hz(w.audio) == pytest.approx(440, abs=1)
    assert np.abs(w.audio).max() == pytest.approx(0.3, abs=0.01)
    assert buf.stats().audio_gaps == 0
    assert 31 <= len(w.frames) <= 33 and w.frames.shape[1:] == (240, 320, 3)


def test_synthetic_source_thread_runs_in_real_time_and_stops():
    buf = LiveBuffer()
    src = SyntheticSource(160, 120, fps=30, audio="chirp")
    events = Events(src)
    src.start(buf)
    time.sleep(0.6)
    assert src.status().state == RUNNING
    src.stop()
    elapsed = buf.clock.now()  # the clock started with the buffer, just before the source
    status = src.status()
    assert status.state == STOPPED and events.kinds == ["started", "stopped"]
    assert elapsed >= 0.6
    # paced on the clock: every frame due up to the last one, each on the 1/30 s grid, none lost or repeated
    _, times = buf.frames.select(0.0, elapsed)
    last = buf.latest_frame()
    assert status.frames == last.index + 1 == round((last.t - times[0]) * 30) + 1
    assert elapsed - last.t < 0.3  # kept up with real time (loose: the machine is shared)
    assert abs(status.audio_samples - (buf.audio.horizon - buf.audio.t_origin) * SR) < 100
    assert buf.audio.horizon - times[0] > 0.5


def test_synthetic_duration_ends():
    clock = FakeClock()
    buf = LiveBuffer(clock)
    src = SyntheticSource(64, 48, fps=10, audio=None, duration_s=1.0)
    src.open(buf)
    clock.set(5.0)
    assert src.pump(5.0) is False
    assert src.status().state == ENDED and src.status().frames == 11


def test_media_file_as_fast_as_possible_keeps_file_times_and_content(tmp_path):
    path = make_video(tmp_path / "clip.mp4", seconds=2.0, fps=15, audio=True)
    buf = LiveBuffer()
    src = MediaFileSource(path, realtime=False)
    events = Events(src)
    t_start = time.monotonic()
    src.start(buf)
    assert src.join(10)
    assert time.monotonic() - t_start < 1.5  # not paced
    status = src.status()
    assert status.state == ENDED and status.frames == 30 and status.has_audio
    assert events.kinds == ["started", "ended"]
    assert abs(status.audio_samples - 2 * SR) < 0.1 * SR
    w = buf.cut_window(0, 0.0, 2.0 + buf.frames.horizon)  # everything on the file's own times
    frame_idx = [index_of_frame(f) for f in w.frames]
    steps = np.diff(w.frame_times)
    assert np.allclose(steps * 15, np.round(steps * 15), atol=1e-3)  # on the file's 1/15 s pts grid
    t_file = w.frame_times - w.frame_times[0]
    assert frame_idx == [round(t * 15) % 28 for t in t_file]  # the frame decoded at each pts
    assert is_red(w.frames[0, 2, 2])  # RGB order
    assert dominant_hz(w.audio[: 2 * SR]) == pytest.approx(440, abs=2)


def test_media_file_real_time_pacing_and_loop(tmp_path):
    path = make_video(tmp_path / "clip.mp4", seconds=0.5, fps=20, audio=True)
    buf = LiveBuffer()
    src = MediaFileSource(path, realtime=True, loop=True)
    src.start(buf)
    time.sleep(1.3)
    src.stop()
    elapsed = buf.clock.now()
    status = src.status()
    assert abs(status.frames - elapsed * 20) <= 3  # paced at 20 fps across two loop restarts
    assert buf.frames.horizon > 1.0  # file times continue across the loop, they do not restart at 0
    stats = buf.stats()
    assert stats.audio_gaps == 0
    assert abs(stats.audio_horizon - stats.video_horizon) < 0.2


def test_media_file_without_audio_warns_and_windows_are_missing_audio(tmp_path):
    path = make_video(tmp_path / "mute.mp4", seconds=1.0, fps=10, audio=None)
    assert probe(path).has_audio is False
    buf = LiveBuffer()
    src = MediaFileSource(path, realtime=False)
    events = Events(src)
    src.start(buf)
    assert src.join(10)
    assert events.kinds == ["started", "warning", "ended"]
    assert "no audio track" in events.messages("warning")[0]
    assert src.status().has_audio is False
    w = buf.cut_window(0, 0.0, 1.0 + buf.frames.horizon)
    assert w.audio is None and w.audio_status == AUDIO_MISSING
    assert "no audio track" in w.source["audio"]


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "truncated", "folder"])
def test_bad_media_files_are_clear_errors_not_crashes(tmp_path, kind):
    good = make_video(tmp_path / "good.mp4", seconds=1.0, audio=True)
    path = {
        "missing": tmp_path / "nope.mp4",
        "empty": make_corrupt(tmp_path / "empty.mp4", "empty"),
        "garbage": make_corrupt(tmp_path / "garbage.mp4", "garbage"),
        "truncated": make_corrupt(tmp_path / "cut.mp4", "truncated", good),
        "folder": tmp_path,
    }[kind]
    buf = LiveBuffer()
    src = MediaFileSource(path, realtime=False)
    events = Events(src)
    src.start(buf)
    assert src.join(10)
    status = src.status()
    if kind == "truncated" and status.state == ENDED:
        # a cut file may decode up to the cut: then it must have delivered something and ended cleanly
        assert status.frames > 0
        return
    assert status.state == ERROR, status
    expected = {
        "missing": "does not exist",
        "empty": "empty",
        "garbage": "damaged",
        "truncated": "damaged",
        "folder": "folder",
    }[kind]
    assert expected in status.message and str(path.name) in status.message
    assert events.kinds == ["error"] or events.kinds[-1] == "error"
    with pytest.raises(MediaFileError, match=expected) if kind != "truncated" else _maybe_raises():
        probe(path)


class _maybe_raises:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is None or issubclass(exc_type, MediaFileError)


def test_camera_source_reads_a_file_through_opencv_paced_like_a_camera(tmp_path):
    path = make_video(tmp_path / "cam.mp4", seconds=1.0, fps=20, audio=None)
    buf = LiveBuffer()
    src = CameraSource(str(path))
    events = Events(src)
    t0 = time.monotonic()
    src.start(buf)
    assert src.join(10)
    assert time.monotonic() - t0 >= 0.8  # paced at the file's 20 fps
    assert events.kinds == ["started", "ended"]
    status = src.status()
    assert status.frames == 20 and status.state == ENDED
    latest = buf.latest_frame()
    assert latest.frame.shape == (120, 160, 3) and is_red(latest.frame[2, 2])
    assert index_of_frame(latest.frame) == 19


def test_camera_source_reads_a_live_stream_through_cv2_videocapture(ffmpeg_stream):
    stream = ffmpeg_stream(size=(320, 240), fps=15)
    buf = LiveBuffer()
    src = CameraSource(stream.url)
    events = Events(src)
    src.start(buf)
    assert wait_for(lambda: src.status().frames >= 20, timeout=10), src.status()
    status = src.status()
    src.stop()
    assert events.kinds[0] == "started"
    assert status.state == RUNNING and status.fps == pytest.approx(15, abs=3)
    assert buf.latest_frame().frame.shape == (240, 320, 3)
    assert buf.source_info()["video"].startswith(f"'{stream.url}' 320x240")
    # frames carry arrival times on the session clock, about 1/15 s apart
    _, times = buf.frames.select(0, 1e9)
    assert np.median(np.diff(times)) == pytest.approx(1 / 7.5, rel=0.35)  # kept at <= 8 fps


def test_no_camera_is_a_clear_error():
    buf = LiveBuffer()
    src = CameraSource(97)  # no machine has 98 cameras
    events = Events(src)
    src.start(buf)
    assert src.join(10)
    assert src.status().state == ERROR
    assert "camera 97 could not be opened" in src.status().message
    assert "Connect a camera or choose a video file" in events.messages("error")[0]
    src.stop()  # stopping a failed source is fine


def test_unreachable_stream_and_missing_file_are_clear_errors(tmp_path):
    from tests.support.streams import free_port

    for target, text in (
        (f"tcp://127.0.0.1:{free_port()}", "cannot open stream"),
        (str(tmp_path / "none.mp4"), "does not exist"),
    ):
        src = CameraSource(target, reconnect=False)
        src.start(LiveBuffer())
        assert src.join(15)
        assert src.status().state == ERROR and text in src.status().message


def test_listing_cameras_returns_a_list_and_never_raises():
    from core.capture import list_cameras

    cams = list_cameras()
    assert isinstance(cams, list)
    import glob

    if not glob.glob("/dev/video*"):
        assert cams == []  # no camera: empty, no exception
