"""``CameraSource``: OpenCV capture of a device index, a video file (paced like a camera) or a stream URL.

A grab thread (the source's own) reads frames as fast as the device delivers them, converts BGR to RGB, stamps each
on the session clock and pushes it into the sink, which keeps the newest one for the preview. Dropped frames are
counted from gaps in arrival times against the device's nominal rate. Consecutive read failures on a device or a
stream mean it was unplugged (or the stream ended): the source reports it, then tries to reopen it every
``RECONNECT_PERIOD_S`` and reports ``reconnected`` when frames flow again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import cv2

from core.capture.base import (
    ENDED,
    ERROR,
    EV_ENDED,
    EV_RECONNECTED,
    EV_STARTED,
    RUNNING,
    SourceBase,
    SourceError,
)
from core.input_checks import ffmpeg_path, file_problem, is_url, stream_url_problem
from core.redaction import redact

log = logging.getLogger(__name__)

READ_FAILURES_TO_DISCONNECT = 3  # consecutive failed reads that mean "unplugged"
RECONNECT_PERIOD_S = 1.0
MAX_NOMINAL_FPS = 240.0  # above this a reported rate is nonsense (some drivers say 1000)
FILE_FALLBACK_FPS = 25.0  # a file that does not say its rate
STREAM_TIMEOUT_MS = 5000  # open/read timeout for stream URLs
# OpenCV's FFmpeg prints its own errors straight to stderr, and they name the URL with its password ("Connection to
# rtsp://user:PASSWORD@cam failed"): keep it quiet (AV_LOG_QUIET); the source reports every failure itself, masked.
# Read once, when OpenCV first opens something with FFmpeg; set OPENCV_FFMPEG_LOGLEVEL yourself to debug a stream.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def _default_opener(target: int | str) -> Any:
    # OpenCV's own warning when a capture does not open ("backend ... can't be used to capture by name") repeats,
    # cryptically, the error this source reports: keep OpenCV's log to errors
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    if isinstance(target, int) or str(target).startswith("/dev/"):
        cap = cv2.VideoCapture(target)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver keeps one frame: what we read is the newest
        return cap
    if is_url(str(target)):
        # a stalled network camera must not hold the grab thread for FFmpeg's default 30 s
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            STREAM_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            STREAM_TIMEOUT_MS,
        ]
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    return cv2.VideoCapture(ffmpeg_path(target), cv2.CAP_FFMPEG)  # absolute: never read as an FFmpeg protocol


class CameraSource(SourceBase):
    """Frames from ``target``: an int (device index), a path to a video file, or a URL (``rtsp://``, ``tcp://``...).

    ``width``/``height``/``fps`` are requests to the device (it may ignore them). A file is paced at its own frame
    rate and ends (or loops with ``loop=True``); devices and streams reconnect when ``reconnect`` is True.
    ``opener(target)`` replaces ``cv2.VideoCapture`` (tests use it to simulate unplugging). A URL's password never
    leaves the object: its name, status, events and log lines show it masked (``core.redaction``).
    """

    kind = "camera"
    has_video = True

    def __init__(
        self,
        target: int | str,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        loop: bool = False,
        reconnect: bool = True,
        opener: Callable[[int | str], Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(target, str) and target.strip().isdigit():
            target = int(target)
        self.target = target
        self.is_file = isinstance(target, str) and not is_url(target) and not target.startswith("/dev/")
        if name is None:
            name = f"camera {target}" if isinstance(target, int) else os.path.basename(str(target))
            if isinstance(target, str) and is_url(target):
                name = redact(target).split("://", 1)[1]  # host and path, the password masked
        super().__init__(name)
        self.req_width, self.req_height, self.req_fps = width, height, fps
        self.loop = loop
        self.reconnect = reconnect and not self.is_file
        self._opener = opener or _default_opener
        self._cap: Any = None
        self.nominal_fps = 0.0
        self.frame_size: tuple[int, int] | None = None  # (width, height) once known

    def _describe_target(self) -> str:
        if isinstance(self.target, int):
            return f"camera {self.target}"
        return f"'{redact(self.target)}'"

    def _open(self) -> Any:
        problem = file_problem(str(self.target)) if self.is_file else None  # before opening: a FIFO would block
        if problem is not None:
            raise SourceError(f"video file {self.target!r} {problem}")
        if isinstance(self.target, str) and is_url(self.target):
            problem = stream_url_problem(self.target)
            if problem is not None:
                raise SourceError(f"stream {self._describe_target()} {problem}")
        cap = self._opener(self.target)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            if isinstance(self.target, int):
                raise SourceError(
                    f"camera {self.target} could not be opened: it is not connected, is used by another application, "
                    "or access is denied. Connect a camera or choose a video file as the source"
                )
            what = "video file" if self.is_file else "stream"
            raise SourceError(
                f"cannot open {what} {self._describe_target()}: not reachable or not a video OpenCV can read"
            )
        if self.req_width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.req_width)
        if self.req_height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.req_height)
        if self.req_fps:
            cap.set(cv2.CAP_PROP_FPS, self.req_fps)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.nominal_fps = fps if 0 < fps <= MAX_NOMINAL_FPS else 0.0
        return cap

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            try:
                cap.release()
            except Exception as exc:
                log.info("releasing %s: %s", self.name, exc)

    def _run(self) -> None:
        self._cap = self._open()
        self._started()
        self._emit(EV_STARTED, "started", fps=self.nominal_fps)
        self._grab_loop()
        self._release()

    def _started(self) -> None:
        self._set_state(
            RUNNING, f"{self._describe_target()} at {self.nominal_fps:g} fps" if self.nominal_fps else ""
        )

    def _grab_loop(self) -> None:
        assert self._sink is not None
        sink, clock = self._sink, self._sink.clock
        file_fps = self.nominal_fps or FILE_FALLBACK_FPS
        t_base, file_i, failures = clock.now(), 0, 0
        while not self._stop.is_set():
            if self.is_file and not self._pace(t_base + file_i / file_fps):
                return
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                failures += 1
                if self.is_file:
                    if file_i == 0:
                        raise SourceError(f"video file {self.target!r} has no readable frames (damaged?)")
                    if self.loop and self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
                        t_base += file_i / file_fps
                        file_i = 0
                        continue
                    self._set_state(ENDED, "end of file")
                    self._emit(EV_ENDED, "end of file")
                    return
                if failures < READ_FAILURES_TO_DISCONNECT:
                    continue
                if not self._lost_and_reopened():
                    return
                failures = 0
                continue
            failures = 0
            t = t_base + file_i / file_fps if self.is_file else clock.now()
            frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if self.frame_size is None:
                self.frame_size = (frame.shape[1], frame.shape[0])
                desc = f"{self._describe_target()} {frame.shape[1]}x{frame.shape[0]}"
                sink.set_source_info(
                    "video", desc + (f" @ {self.nominal_fps:g} fps" if self.nominal_fps else "")
                )
            sink.push_frame(frame, t)
            self._count_frame(t, self.nominal_fps if not self.is_file else 0.0)
            file_i += 1

    def _lost_and_reopened(self) -> bool:
        """The device stopped delivering: report, then reopen every RECONNECT_PERIOD_S. True once it is back."""
        self._release()
        retry = f"; trying to reconnect every {RECONNECT_PERIOD_S:g} s" if self.reconnect else ""
        self._fail(f"{self._describe_target()} stopped delivering frames (unplugged or stream ended){retry}")
        if not self.reconnect:
            return False
        while not self._stop.wait(RECONNECT_PERIOD_S):
            try:
                self._cap = self._open()
            except SourceError as exc:
                self._set_state(ERROR, f"{exc}; retrying every {RECONNECT_PERIOD_S:g} s")
                continue
            self._reconnects += 1
            self._last_frame_t = None
            self._started()
            self._emit(EV_RECONNECTED, f"{self._describe_target()} is back")
            return True
        return False
