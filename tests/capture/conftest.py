from tests.support.fixtures import ffmpeg_stream, pulse_server  # noqa: F401
