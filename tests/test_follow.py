"""Detect every k-th frame: faces are followed between detections and dropped when they vanish."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox
from fer_edge.follow import FollowingDetector
from fer_edge.images import read_image

from conftest import FACE_PHOTO


class CountingDetector:
    """Finds the one face at its true place (given per frame), counting calls."""

    name = "truth"

    def __init__(self):
        self.calls, self.truth = 0, None

    def detect(self, frame):
        self.calls += 1
        return [self.truth]


def scene(x, y, face):
    frame = np.full((480, 640, 3), 120, np.uint8)
    frame[y:y + face.shape[0], x:x + face.shape[1]] = face
    return frame


@pytest.fixture(scope="module")
def face_patch():
    import cv2

    return cv2.resize(read_image(FACE_PHOTO)[:220, 150:370], (160, 160))


def test_boxes_move_with_the_face_between_detections(face_patch):
    detector = CountingDetector()
    finder = FollowingDetector(detector, every=3)
    found = []
    for step in range(7):
        x, y = 100 + 9 * step, 80 + 4 * step
        detector.truth = FaceBox(x, y, 160, 160, 0.9)
        found.append(finder.detect(scene(x, y, face_patch))[0])
    assert detector.calls == 3 and finder.detections == 3  # frames 1, 4 and 7
    for step, box in enumerate(found):
        assert box.x == pytest.approx(100 + 9 * step, abs=2.5) and box.y == pytest.approx(80 + 4 * step, abs=2.5)
        assert (box.width, box.height, box.score) == (160, 160, 0.9)


def test_a_face_that_leaves_is_dropped_until_the_next_detection(face_patch):
    detector = CountingDetector()
    finder = FollowingDetector(detector, every=4)
    detector.truth = FaceBox(200, 100, 160, 160)
    assert len(finder.detect(scene(200, 100, face_patch))) == 1
    empty = np.full((480, 640, 3), 120, np.uint8)
    assert finder.detect(empty) == [] and finder.detect(empty) == []


def test_every_frame_detection_is_the_detector_itself(face_patch):
    detector = CountingDetector()
    detector.truth = FaceBox(10, 10, 160, 160)
    finder = FollowingDetector(detector, every=1)
    for _ in range(3):
        assert finder.detect(scene(10, 10, face_patch)) == [detector.truth]
    assert detector.calls == 3
    with pytest.raises(FerEdgeError, match="at least 1"):
        FollowingDetector(detector, every=0)


@pytest.mark.parametrize("options, message", [({"every": 0}, "k must be at least 1, got 0"),
                                              ({"min_score": float("nan")}, "min_score must be within"),
                                              ({"search": 0.0}, "search within \\(0, 4\\]"),
                                              ({"search": float("inf")}, "got 0.5, inf")])
def test_bad_following_options_are_refused(options, message):
    with pytest.raises(FerEdgeError, match=message):
        FollowingDetector(object(), **options)
