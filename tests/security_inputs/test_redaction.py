"""A stream URL's password is masked wherever the app shows or writes a URL (core.redaction)."""

from __future__ import annotations

import logging

import pytest

from core.capture.base import ERROR
from core.capture.camera import CameraSource
from core.redaction import RedactingFormatter, install_log_redaction, redact
from core.ring_buffer import LiveBuffer
from tests.capture.helpers import Events
from tests.support.streams import free_port

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(("text", "shown"), [
    (f"rtsp://admin:{SECRET}@cam.local:554/live", "rtsp://admin:***@cam.local:554/live"),
    (f"cannot open 'rtsp://u:{SECRET}@h/s': refused", "cannot open 'rtsp://u:***@h/s': refused"),
    (f"rtsp://u:p@{SECRET}@h/s", "rtsp://u:***@h/s"),  # an unencoded '@' in the password: FFmpeg splits at the last
    (f"rtsp://u:{SECRET[:4]}/{SECRET[4:]}@h/s", "rtsp://u:***@h/s"),  # even a '/' in it
    (f"https://{SECRET}@host/x", "https://***@host/x"),  # a lone userinfo is often a token
    (f"rtsp://cam/s?user=a&password={SECRET}&ch=1", "rtsp://cam/s?user=a&password=***&ch=1"),
    (f"https://h/p?access_token={SECRET}", "https://h/p?access_token=***"),
    (f"two: rtsp://a:{SECRET}@x/1 and http://b:{SECRET}@y/2", "two: rtsp://a:***@x/1 and http://b:***@y/2"),
    ("tcp://127.0.0.1:9", "tcp://127.0.0.1:9"), ("/home/me/clip.mp4", "/home/me/clip.mp4"), ("a=b", "a=b"),
])
def test_redact(text, shown):
    assert redact(text) == shown
    assert SECRET not in redact(text)


def test_log_lines_and_tracebacks_are_redacted():
    handler = logging.StreamHandler()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "opening %s", (f"rtsp://u:{SECRET}@h/",), None)
    try:
        raise RuntimeError(f"failed: rtsp://u:{SECRET}@h/")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    handler.setFormatter(RedactingFormatter(logging.Formatter("%(levelname)s %(message)s")))
    line = handler.format(record)
    assert SECRET not in line and "opening rtsp://u:***@h/" in line and "RuntimeError: failed" in line
    logger = logging.getLogger("redaction-test")
    logger.addHandler(logging.StreamHandler())
    install_log_redaction(logger)
    install_log_redaction(logger)  # idempotent: not wrapped twice
    formatter = logger.handlers[0].formatter
    assert isinstance(formatter, RedactingFormatter) and not isinstance(formatter.inner, RedactingFormatter)


def test_a_failing_stream_source_never_shows_its_password(caplog):
    url = f"tcp://viewer:{SECRET}@127.0.0.1:{free_port()}/live"
    buf = LiveBuffer()
    src = CameraSource(url, reconnect=False)
    events = Events(src)
    with caplog.at_level(logging.DEBUG):
        src.start(buf)
        assert src.join(15)
    status = src.status()
    assert status.state == ERROR and "cannot open stream" in status.message
    shown = [src.name, status.message, *(e.message for e in events.items), *(e.source for e in events.items),
             caplog.text, repr(buf.source_info())]
    assert not [s for s in shown if SECRET in s], shown
    assert "viewer:***@127.0.0.1" in status.message
    assert src.target == url  # the source still has what it needs to connect


def test_a_url_of_another_scheme_is_refused_by_the_source_itself():
    src = CameraSource(f"ftp://u:{SECRET}@127.0.0.1/x.mp4", reconnect=False)  # e.g. from an old settings file
    src.start(LiveBuffer())
    assert src.join(5)
    assert src.status().state == ERROR and "not a stream this app reads" in src.status().message
    assert SECRET not in src.status().message
