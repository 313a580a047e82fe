"""Who is in view: frontal faces in the frames the model saw.

The model looks at whole frames. When nobody faces the camera, or when several people do, its reasoning can
describe no face or the wrong person without saying so. Each analysed window therefore carries the number of
frontal faces OpenCV's Haar cascade finds in each of the frames the model used (``WindowResult.faces``), and the
app and the logs state it next to the answer: "no frontal face", "2 faces in view".

It is a frontal-face detector and says so: profile views, strong occlusion and very small faces are missed, and a
face-like pattern is occasionally counted. It informs the reader of a result; it never changes the result.
Detection runs at <= ``DETECT_HEIGHT_PX`` height (5-15 ms a frame on one core here) and releases the GIL; in the
live session it runs on its own thread while the model analyses the window, so it adds no latency.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.window import DEFAULT_MODEL_FRAMES, model_frame_indices

log = logging.getLogger(__name__)

CASCADE_NAME = "haarcascade_frontalface_default.xml"
CASCADE_DIRS = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")
DETECT_HEIGHT_PX = 320
CHECK_WAIT_S = 5.0  # a check normally ends long before the model; a result is never held longer
MIN_FACE_FRACTION = 0.08  # smallest face counted, as a fraction of the frame height (24 px at 320)


class FaceDetectorUnavailable(RuntimeError):
    pass


def find_face_cascade() -> Path | None:
    """OpenCV's frontal-face Haar cascade: from ``cv2.data`` if the wheel ships it, else the system copy."""
    dirs: list[str] = []
    try:
        import cv2

        dirs.append(getattr(getattr(cv2, "data", None), "haarcascades", "") or "")
    except ImportError:
        pass
    for d in [*dirs, *CASCADE_DIRS]:
        p = Path(d) / CASCADE_NAME
        if d and p.is_file():
            return p
    return None


class FaceDetector:
    """``detector(rgb uint8 [H, W, 3]) -> float array [n, 4]`` of (x, y, w, h) boxes in the frame's pixels.

    ``detect(gray) -> [(x, y, w, h), ...]`` can be injected (tests); by default OpenCV's frontal-face cascade,
    run on a copy scaled to at most ``DETECT_HEIGHT_PX`` high, ignoring faces smaller than ``min_face_fraction`` of
    that height (background posters and noise). Raises :class:`FaceDetectorUnavailable` with
    the fix when the cascade file is not installed. One instance per thread (OpenCV's classifier is not shared).
    """

    def __init__(self, detect: Callable[[np.ndarray], Any] | None = None,
                 min_face_fraction: float = MIN_FACE_FRACTION) -> None:
        import cv2

        self._cv2 = cv2
        if detect is None:
            path = find_face_cascade()
            if path is None:
                raise FaceDetectorUnavailable(
                    f"OpenCV's face detector file ({CASCADE_NAME}) is not installed (opencv-python-headless 5 "
                    "does not ship it): install opencv-python-headless<5 or the 'opencv-data' system package"
                )
            cascade = cv2.CascadeClassifier(str(path))
            if cascade.empty():
                raise FaceDetectorUnavailable(f"{path} is not a readable face cascade: reinstall OpenCV")

            def detect(gray: np.ndarray) -> Any:
                side = round(min_face_fraction * gray.shape[0])  # 0: down to the cascade's own 24 px
                return cascade.detectMultiScale(gray, scaleFactor=1.15, minNeighbors=4, minSize=(side, side))

        self._detect = detect

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        h, w = rgb.shape[:2]
        scale = min(1.0, DETECT_HEIGHT_PX / h)
        small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        boxes = self._detect(cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY))
        if boxes is None or len(boxes) == 0:
            return np.zeros((0, 4))
        return np.asarray(boxes, dtype=float).reshape(-1, 4) / scale


@dataclass(frozen=True)
class FaceCheck:
    """Frontal faces per frame the model saw."""

    counts: tuple[int, ...]

    @property
    def most(self) -> int:
        return max(self.counts, default=0)

    @property
    def status(self) -> str:
        """``none`` (no frame has a face), ``one`` or ``several`` (some frame has two or more)."""
        return "none" if self.most == 0 else "one" if self.most == 1 else "several"

    def short_warning(self) -> str | None:
        """A few words for an overlay ("no frontal face", "2 faces in view"), or None for one face."""
        if self.status == "none":
            return "no frontal face"
        if self.status == "several":
            return f"{self.most} faces in view"
        return None

    def warning(self) -> str | None:
        """What a reader of this window's result should know, or None when one face was in view."""
        if self.status == "none":
            return "no frontal face in the frames the model saw: the answer may rest on the voice or the scene"
        if self.status == "several":
            return f"{self.most} faces in view: the reasoning may describe any of them"
        return None


def count_faces(frames: Sequence[np.ndarray] | np.ndarray, detector: FaceDetector) -> FaceCheck:
    """Frontal faces in each frame (uint8 [N, H, W, 3] RGB)."""
    return FaceCheck(tuple(len(detector(f)) for f in frames))


def status_of(counts: Sequence[int] | None) -> str | None:
    """``FaceCheck.status`` for stored counts (a session log), None when the window was not checked."""
    return None if counts is None else FaceCheck(tuple(int(c) for c in counts)).status


class FaceChecks:
    """Counts frontal faces (``core.faces``) in a window's model frames on a "face-check" thread, so that the
    check runs while the model does. Unavailable detector (no cascade file): logged once, results carry None."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self._pool: ThreadPoolExecutor | None = None
        self._detector: Any = None  # used on the pool's one thread only

    def submit(self, frames: np.ndarray, num_frames: int = DEFAULT_MODEL_FRAMES) -> Future | None:
        """Start counting in the ``num_frames`` frames the model samples from ``frames`` (uint8 [N, H, W, 3])."""
        return self.submit_picked(frames[model_frame_indices(len(frames), num_frames)])

    def submit_picked(self, picked: np.ndarray) -> Future | None:
        """Start counting in frames already sampled for the model (uint8 [K, H, W, 3])."""
        if not self._enabled:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-check")
        return self._pool.submit(self._count, picked)

    def _count(self, frames: np.ndarray) -> tuple[int, ...] | None:
        if self._detector is None:
            try:
                self._detector = FaceDetector()
            except FaceDetectorUnavailable as exc:
                log.warning("faces in view are not checked: %s", exc)
                self._enabled = False
                return None
        return count_faces(frames, self._detector).counts

    @staticmethod
    def result(pending: Future | None) -> tuple[int, ...] | None:
        if pending is None:
            return None
        try:
            return pending.result(timeout=CHECK_WAIT_S)
        except Exception as exc:  # noqa: BLE001 — a failed check leaves the result unmarked, never lost
            log.warning("face check failed: %s", exc)
            return None

    def close(self, wait: bool = False) -> None:
        """Drop pending checks and end the "face-check" thread; ``wait``: until it has ended (a check in progress
        takes milliseconds, the detector's first load a little more)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None
