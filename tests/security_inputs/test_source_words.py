"""``--source`` words: one parser (core.sources.parse_source) for the monitor, the app and its remembered source."""

from __future__ import annotations

import dataclasses
import os

import pytest

from core.sources import (
    DEMO_CLIP,
    SOURCE_CAMERA,
    SOURCE_DEMO,
    SOURCE_FILE,
    SOURCE_STREAM,
    SOURCE_SYNTHETIC,
    SourceSpec,
    SourceSpecError,
    describe,
    parse_source,
)
from tests.support.media import make_video


@pytest.mark.parametrize(("text", "kind", "ref"), [
    ("camera", SOURCE_CAMERA, 0), ("camera:3", SOURCE_CAMERA, 3), (" camera:0 ", SOURCE_CAMERA, 0),
    ("2", SOURCE_CAMERA, 2), ("demo", SOURCE_DEMO, str(DEMO_CLIP)), ("synthetic", SOURCE_SYNTHETIC, None),
    ("rtsp://cam.local:554/live", SOURCE_STREAM, "rtsp://cam.local:554/live"),
    ("tcp://127.0.0.1:9", SOURCE_STREAM, "tcp://127.0.0.1:9"),
])
def test_words_and_urls(text, kind, ref):
    assert parse_source(text) == SourceSpec(kind, ref)


def test_a_file_is_given_as_an_absolute_path(tmp_path, monkeypatch):
    make_video(tmp_path / "clip.mp4", seconds=0.5)
    monkeypatch.chdir(tmp_path)
    spec = parse_source("clip.mp4")
    assert spec == SourceSpec(SOURCE_FILE, str(tmp_path / "clip.mp4")) and describe(spec) == "clip.mp4"
    (tmp_path / "concat:x.mp4").write_bytes((tmp_path / "clip.mp4").read_bytes())
    assert parse_source("./concat:x.mp4").ref == str(tmp_path / "concat:x.mp4")  # the escape the error names


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty"), ("   ", "empty"),
    ("camera:front", "not a number"), ("camera:-1", "not a number"), ("camera:256", "above 255"),
    ("concat:a.mp4|b.mp4", "FFmpeg protocol"), ("file:/etc/passwd", "FFmpeg protocol"),
    ("subfile,,start,0,end,100,,:/etc/passwd", "FFmpeg protocol"), ("pipe:0", "FFmpeg protocol"),
    ("ftp://host/x.mp4", "not a stream this app reads"), ("file:///etc/passwd", "not a stream this app reads"),
    ("rtsp://", "names no host"), ("rtsp://cam/a b", "blanks or control"), ("rtsp://h:99999999/", "not a valid URL"),
    ("/no/such/clip.mp4", "no such file"), ("/dev/zero", "is a device"),
])
def test_refused_words_name_the_problem(text, words):
    with pytest.raises(SourceSpecError, match=words):
        parse_source(text)


def test_refused_paths_name_their_type(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    os.mkfifo(tmp_path / "pipe.mp4")
    (tmp_path / "folder").mkdir()
    cases = {"empty.mp4": "is empty", "pipe.mp4": r"named pipe \(FIFO\)", "folder": "is a folder"}
    for name, words in cases.items():
        with pytest.raises(SourceSpecError, match=words) as info:
            parse_source(str(tmp_path / name))
        assert str(tmp_path / name) in str(info.value)
    assert "main.py analyze" in str(pytest.raises(SourceSpecError, parse_source, str(tmp_path / "folder")).value)


def test_a_spec_is_a_frozen_value_that_never_shows_a_password():
    spec = parse_source("rtsp://admin:hunter2@cam.local/live")
    assert spec.ref == "rtsp://admin:hunter2@cam.local/live"  # what the app connects with
    assert describe(spec) == "rtsp://admin:***@cam.local/live"
    assert "hunter2" not in repr(spec) and "hunter2" not in str(spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.ref = "x"  # type: ignore[misc]
    with pytest.raises(SourceSpecError) as info:
        parse_source("ftp://admin:hunter2@cam.local/live")
    assert "hunter2" not in str(info.value) and "admin:***@" in str(info.value)


def test_the_app_and_the_monitor_share_the_parser(tmp_path):
    from desktop.startup import file_source, source_choice

    clip = make_video(tmp_path / "clip.mp4", seconds=0.5)
    assert file_source(str(clip)) == str(clip) and file_source("demo") == str(DEMO_CLIP)
    assert file_source("camera:1") is None and file_source("concat:x|y") is None
    stream = source_choice("rtsp://admin:hunter2@cam.local/live")
    assert stream.ref == "rtsp://admin:hunter2@cam.local/live" and "hunter2" not in stream.label
    with pytest.raises(SourceSpecError, match="camera:N"):
        source_choice("camera:x")
