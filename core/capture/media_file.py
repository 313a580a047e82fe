"""``MediaFileSource``: a video file (with or without sound) decoded by PyAV as a live source.

Paced in real time on the session clock (as if a camera and a microphone were recording it) or as fast as possible;
optionally looped. Video frames go to the sink as RGB, scaled while decoding to at most ``CAPTURE_MAX_SIDE_PX``;
audio is resampled to 16 kHz mono by libswresample. Frame and audio times are the file's own presentation times,
offset onto the session clock, and audio is marked as exactly timed (a hole in its times is a hole, not jitter). A
missing, empty, damaged or oversized file, or a path that is not a regular file (checked before opening: a FIFO
would block), is a clear ``error``; a file without sound runs with a warning event and windows marked ``missing``
audio.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from core.capture.base import (
    ENDED,
    EV_ENDED,
    EV_STARTED,
    EV_WARNING,
    RUNNING,
    CaptureSink,
    SourceBase,
    SourceError,
)
from core.input_checks import av_reason, ffmpeg_path, file_problem, picture_size_problem
from core.ring_buffer import reduced_shape
from core.window import MODEL_SAMPLE_RATE_HZ

log = logging.getLogger(__name__)

# Frames larger than full HD are scaled to it while decoding: the preview and the recording need no more (the model
# sees 448 px at most, see core.ring_buffer), and an 8000x8000 file would otherwise cost 192 MB of RGB per frame.
CAPTURE_MAX_SIDE_PX = 1920


class MediaFileError(SourceError):
    """A media file is missing, empty, damaged or has nothing to play."""


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration_s: float | None
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    audio_rate_hz: int = 0
    audio_channels: int = 0


def _open_container(path: str) -> av.container.InputContainer:
    problem = file_problem(path)  # before opening: a FIFO would block this thread, a device stream forever
    if problem is not None:
        raise MediaFileError(f"media file {path!r} {problem}")
    try:
        return av.open(ffmpeg_path(path))
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise MediaFileError(
            f"cannot read {path!r}: {av_reason(exc)}. The file is damaged or not a video/audio file; try another "
            "file or re-encode it (e.g. ffmpeg -i in.mov out.mp4)"
        ) from None


def probe(path: str | Path) -> MediaInfo:
    """What a media file holds. Raises ``MediaFileError`` for missing/empty/damaged files or files with no
    video and no audio. Quick (reads the header only); may be called on any thread."""
    path = str(path)
    container = _open_container(path)
    try:
        return _info(path, container)
    finally:
        container.close()


def _info(path: str, container: av.container.InputContainer) -> MediaInfo:
    v = container.streams.video[0] if container.streams.video else None
    a = container.streams.audio[0] if container.streams.audio else None
    if v is None and a is None:
        raise MediaFileError(f"{path!r} has neither a video nor an audio stream")
    problem = picture_size_problem(v.codec_context.width, v.codec_context.height) if v is not None else None
    if problem is not None:
        raise MediaFileError(f"{path!r} {problem}")
    duration = container.duration / 1e6 if container.duration else None
    return MediaInfo(
        path=path,
        duration_s=duration,
        has_video=v is not None,
        has_audio=a is not None,
        width=v.codec_context.width if v is not None else 0,
        height=v.codec_context.height if v is not None else 0,
        fps=float(v.average_rate or v.guessed_rate or 0) if v is not None else 0.0,
        audio_rate_hz=a.codec_context.sample_rate if a is not None else 0,
        audio_channels=a.codec_context.channels if a is not None else 0,
    )


def to_rgb(frame, max_side: int | None) -> np.ndarray:
    """uint8 [h, w, 3] RGB of a decoded PyAV video frame, scaled by FFmpeg (area filter, aspect kept) in the same
    conversion when its long side exceeds ``max_side``, so that no full-size RGB copy is ever made (for the
    preview and the recording; the ring reduces the model's copies further)."""
    if max_side is None or max(frame.width, frame.height) <= max_side:
        return frame.to_ndarray(format="rgb24")
    h, w = reduced_shape(frame.height, frame.width, max_side)
    return frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()


class MediaFileSource(SourceBase):
    """Play ``path`` into the sink: ``realtime=True`` paces on the sink's clock, False runs as fast as decoding
    goes (the session times are still the file's times); ``loop=True`` starts over at the end."""

    kind = "media"

    def __init__(
        self, path: str | Path, realtime: bool = True, loop: bool = False, name: str | None = None
    ) -> None:
        super().__init__(name or os.path.basename(str(path)))
        self.path = str(path)
        self.realtime = realtime
        self.loop = loop
        self.info: MediaInfo | None = None
        self.has_video = True  # until the file says otherwise
        self.has_audio = True

    def _run(self) -> None:
        assert self._sink is not None
        container = _open_container(self.path)
        try:
            info = self.info = _info(self.path, container)
            self.has_video, self.has_audio = info.has_video, info.has_audio
            self._audio_rate = info.audio_rate_hz
            self._describe(info)
            self._set_state(
                RUNNING, "playing" + (" in real time" if self.realtime else " as fast as possible")
            )
            self._emit(EV_STARTED, "started", **info.__dict__)
            if not info.has_audio:
                self._emit(
                    EV_WARNING, f"{self.name} has no audio track: windows will be marked 'audio missing'"
                )
            t_base = self._sink.clock.now()
            while not self._stop.is_set():
                played = self._play_once(container, t_base)
                if self._stop.is_set():
                    return
                if not self.loop or played <= 0:
                    self._set_state(ENDED, "end of file")
                    self._emit(EV_ENDED, "end of file")
                    return
                t_base += played
                container.seek(0)
        finally:
            container.close()

    def _describe(self, info: MediaInfo) -> None:
        assert self._sink is not None
        if info.has_video:
            self._sink.set_source_info("video", f"{self.name} {info.width}x{info.height} @ {info.fps:g} fps")
        if info.has_audio:
            self._sink.set_source_info(
                "audio", f"{self.name} {info.audio_rate_hz} Hz x{info.audio_channels} -> 16 kHz mono"
            )
        else:
            self._sink.set_source_info("audio", f"{self.name}: no audio track")

    def _play_once(self, container: av.container.InputContainer, t_base: float) -> float:
        """Decode the whole file once onto session times ``t_base + pts``; returns the media duration played."""
        sink = self._sink
        assert sink is not None
        streams = [s for s in (container.streams.video[:1] + container.streams.audio[:1])]
        v_stream = container.streams.video[0] if container.streams.video else None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=MODEL_SAMPLE_RATE_HZ)
        fps = float(v_stream.average_rate or 0) if v_stream is not None else 0.0
        end = 0.0
        try:
            for packet in container.demux(streams):
                if self._stop.is_set():
                    break
                for frame in packet.decode():
                    if not isinstance(frame, (av.VideoFrame, av.AudioFrame)):
                        continue  # never taken: only the video and audio streams are demuxed, so no subtitles come
                    t_media = frame.time if frame.time is not None else end
                    if isinstance(frame, av.VideoFrame):
                        t = t_base + t_media
                        if self.realtime and not self._pace(t):
                            return end
                        sink.push_frame(to_rgb(frame, CAPTURE_MAX_SIDE_PX), t)
                        self._count_frame(t, fps)
                        end = max(end, t_media + (1.0 / fps if fps else 0.0))
                    else:
                        end = max(end, t_media + frame.samples / frame.sample_rate)
                        for out in resampler.resample(frame):
                            self._push_audio(sink, out, t_base)
            for out in resampler.resample(None):
                self._push_audio(sink, out, t_base)
        except av.error.FFmpegError as exc:
            raise MediaFileError(
                f"{self.path!r} is damaged: decoding stopped at {end:.2f} s ({av_reason(exc)}); re-encode or replace "
                "the file"
            ) from None
        if end == 0.0:
            raise MediaFileError(
                f"{self.path!r} holds no decodable frames or samples (damaged or empty stream)"
            )
        return end

    def _push_audio(self, sink: CaptureSink, frame: av.AudioFrame, t_base: float) -> None:
        t0 = t_base + (frame.time or 0.0)
        if self.realtime and not self._pace(t0):
            return
        samples = frame.to_ndarray()[0]
        sink.push_audio(samples, t0, exact=True)
        self._audio_samples += len(samples)
