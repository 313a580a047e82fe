"""The shared test helpers work as documented (other suites rely on them)."""

import os
from pathlib import Path

import av
import pytest

from tests.support.media import make_video, make_wav, tone
from tests.support.xvfb import XvfbDisplay, xvfb_available


@pytest.mark.skipif(not xvfb_available(), reason="Xvfb not installed: apt-get install xvfb")
def test_xvfb_display_starts_sets_display_and_stops():
    before = os.environ.get("DISPLAY")
    with XvfbDisplay() as display:
        number = display.lstrip(":")
        assert os.environ["DISPLAY"] == display
        assert Path(f"/tmp/.X11-unix/X{number}").exists()
    assert os.environ.get("DISPLAY") == before


@pytest.mark.parametrize("audio", [True, None])
def test_make_video_with_and_without_audio(tmp_path, audio):
    path = make_video(tmp_path / "v.mp4", seconds=1.0, fps=10, size=(64, 48), audio=audio)
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.width == 64
        assert len(c.streams.audio) == (1 if audio else 0)
        assert sum(1 for _ in c.decode(video=0)) == 10


def test_make_wav_round_trips(tmp_path):
    import wave

    path = make_wav(tmp_path / "a.wav", tone(0.5))
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (16_000, 1, 8000)
