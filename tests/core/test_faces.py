"""Who is in view: the frontal-face check on real pictures (the demo clip's face), its statuses and wording,
the checker thread beside the model, and the worker's results carrying the counts."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from core import faces
from core.clip_decode import read_clip
from core.faces import FaceCheck, FaceChecks, FaceDetector, count_faces, status_of
from core.sources import DEMO_CLIP


@pytest.fixture(scope="module")
def face_frame() -> np.ndarray:
    """A frame of the bundled demo clip: one frontal (synthetic) face."""
    clip = read_clip(DEMO_CLIP)
    return np.ascontiguousarray(clip.frames[len(clip.frames) // 2])


def test_counts_no_one_and_two_faces(face_frame):
    detector = FaceDetector()
    empty = np.full_like(face_frame, 90)
    two = np.concatenate([face_frame, face_frame], axis=1)  # two people side by side
    check = count_faces([empty, face_frame, two], detector)
    assert check.counts == (0, 1, 2)
    boxes = detector(face_frame)
    x, y, w, h = boxes[0]
    assert 0 <= x and x + w <= face_frame.shape[1] and 0 <= y and y + h <= face_frame.shape[0]  # frame pixels


def test_a_large_frame_is_checked_at_reduced_size_in_its_own_pixels(face_frame):
    import cv2

    big = cv2.resize(face_frame, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    small_box = FaceDetector()(face_frame)[0]
    big_box = FaceDetector()(big)[0]
    assert big_box == pytest.approx(3 * small_box, rel=0.25)


@pytest.mark.parametrize(
    ("counts", "status", "short"),
    [((0, 0, 0), "none", "no frontal face"), ((0, 1, 1), "one", None), ((1, 2, 3, 1), "several", "3 faces in view")],
)
def test_statuses_and_wording(counts, status, short):
    check = FaceCheck(counts)
    assert check.status == status == status_of(list(counts))
    assert check.short_warning() == short
    assert (check.warning() is None) == (short is None)
    if status == "several":
        assert "may describe any of them" in check.warning()
    if status == "none":
        assert "voice or the scene" in check.warning()
    assert status_of(None) is None


def test_checks_run_beside_the_caller_on_the_frames_the_model_samples(face_frame):
    checks = FaceChecks()
    empty = np.full_like(face_frame, 90)
    frames = np.stack([face_frame] * 5 + [empty] * 5)  # 10 frames: the model samples 8 of them, spread evenly
    try:
        pending = checks.submit(frames)
        counts = checks.result(pending)
    finally:
        checks.close()
    assert counts == (1, 1, 1, 1, 0, 0, 0, 0)  # the model samples frames 1..8 of 10, in order


def test_without_the_detector_file_results_carry_none_and_it_is_said_once(face_frame, monkeypatch, caplog):
    monkeypatch.setattr(faces, "find_face_cascade", lambda: None)
    checks = FaceChecks()
    try:
        with caplog.at_level(logging.WARNING, logger="core.faces"):
            first = checks.result(checks.submit(np.stack([face_frame] * 8)))
            second = checks.submit(np.stack([face_frame] * 8))
    finally:
        checks.close()
    assert first is None and second is None  # not tried again for every window
    assert caplog.text.count("faces in view are not checked") == 1 and "opencv" in caplog.text


def test_disabled_checks_do_nothing(face_frame):
    checks = FaceChecks(enabled=False)
    assert checks.submit(np.stack([face_frame] * 8)) is None and checks.result(None) is None
