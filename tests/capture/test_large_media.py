"""A media file larger than full HD plays as a live source at full HD at most (scaled while decoding, no full-size
RGB frame), and one with absurdly large pictures is refused before any is decoded."""

from __future__ import annotations

import pytest

import core.capture.media_file as media_file
from core.capture.base import ERROR
from core.capture.media_file import CAPTURE_MAX_SIDE_PX, MediaFileError, MediaFileSource, probe
from core.ring_buffer import MAX_SIDE_PX, LiveBuffer
from tests.capture.helpers import is_red
from tests.support.media import make_video


def test_frames_above_full_hd_are_scaled_while_decoding(tmp_path):
    path = make_video(tmp_path / "wide.mp4", seconds=0.5, fps=10, size=(2560, 1440), audio=None)
    buf = LiveBuffer()
    src = MediaFileSource(path, realtime=False)
    src.start(buf)
    assert src.join(20) and src.status().frames == 5
    latest = buf.latest_frame().frame
    assert latest.shape == (1080, CAPTURE_MAX_SIDE_PX, 3) and is_red(latest[10, 10])  # aspect and colours kept
    assert buf.frames.storage.shape[1:] == (252, MAX_SIDE_PX, 3)  # the model's copies, as for any source


def test_frames_up_to_full_hd_are_delivered_as_decoded(tmp_path):
    path = make_video(tmp_path / "hd.mp4", seconds=0.2, fps=10, size=(1920, 1080), audio=None)
    buf = LiveBuffer()
    src = MediaFileSource(path, realtime=False)
    src.start(buf)
    assert src.join(20)
    import av

    with av.open(str(path)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert buf.latest_frame().frame.shape == first.shape == (1080, 1920, 3)


def test_pictures_beyond_the_pixel_limit_are_refused(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", seconds=0.5, size=(320, 240), audio=None)
    real = media_file.picture_size_problem
    monkeypatch.setattr(media_file, "picture_size_problem", lambda w, h: real(w, h, limit=320 * 240 - 1))
    with pytest.raises(MediaFileError, match="million pixels"):
        probe(path)
    src = MediaFileSource(path, realtime=False)
    src.start(LiveBuffer())
    assert src.join(10)
    assert src.status().state == ERROR and "scale it down first" in src.status().message
    assert src.status().frames == 0
