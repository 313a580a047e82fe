"""pytest fixtures over the shared test helpers. Import the ones you need in your conftest.py::

from tests.support.fixtures import pulse_server, xvfb_display, ffmpeg_stream  # noqa: F401
"""

from __future__ import annotations

import pytest

from tests.support.pulse import PulseServer, pulseaudio_available
from tests.support.streams import FfmpegTestStream, ffmpeg_available
from tests.support.xvfb import XvfbDisplay, xvfb_available


@pytest.fixture(scope="module")
def pulse_server():
    """A private PulseAudio daemon with the virtual microphone ``vmic`` (see tests.support.pulse)."""
    if not pulseaudio_available():
        pytest.skip("pulseaudio (and pactl) not installed: apt-get install pulseaudio pulseaudio-utils")
    server = PulseServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ffmpeg_stream():
    """Factory: ``ffmpeg_stream(size=(320, 240), fps=15)`` starts a real-time tcp MPEG-TS test stream; all are
    stopped at teardown."""
    if not ffmpeg_available():
        pytest.skip("ffmpeg not installed: apt-get install ffmpeg")
    started: list[FfmpegTestStream] = []

    def make(**kwargs) -> FfmpegTestStream:
        stream = FfmpegTestStream(**kwargs).start()
        started.append(stream)
        return stream

    yield make
    for stream in started:
        stream.stop()


@pytest.fixture(scope="session")
def xvfb_display():
    """A private Xvfb server; yields its DISPLAY string (``:N``) and sets DISPLAY while it runs."""
    if not xvfb_available():
        pytest.skip("Xvfb not installed: apt-get install xvfb xauth")
    with XvfbDisplay() as display:
        yield display
