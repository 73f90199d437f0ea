"""benchmarks/yunet_face_size.py: faces drawn at a chosen size, and the detector before `retry_width` as it was."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FACE_PHOTO, load_benchmark
from fer_edge.faces import DetectorOptions, YuNetDetector
from fer_edge.images import read_image


@pytest.fixture(scope="module")
def face_size():
    return load_benchmark("yunet_face_size")


@pytest.fixture(scope="module")
def photo_and_face():
    photo = read_image(FACE_PHOTO)
    return photo, YuNetDetector(DetectorOptions(detect_width=0)).detect(photo)[0]


def test_placed_draws_the_face_at_the_asked_size_where_yunet_finds_it(face_size, photo_and_face):
    photo, face = photo_and_face
    frame, expected = face_size.placed(photo, face, 60, (480, 640))
    assert frame.shape == (480, 640, 3) and frame[-1, -1].tolist() == [128, 128, 128]
    assert min(expected.width, expected.height) == pytest.approx(60)
    found = YuNetDetector(DetectorOptions(detect_width=0, min_face_size=0)).detect(frame)
    assert face_size.found(found, expected) and found[0].iou(expected) > 0.8


@pytest.mark.parametrize("side", [40, 150])  # 16 and 60 px in the 256 px search: both found there
def test_the_detector_before_finds_what_todays_finds_with_the_default_minimum(face_size, photo_and_face, side):
    photo, face = photo_and_face
    frame, expected = face_size.placed(photo, face, side, (480, 640))
    before, now = face_size.DetectorBefore(20).detect(frame), YuNetDetector().detect(frame)
    assert len(before) == len(now) == 1
    assert before[0].iou(now[0]) > 0.99 and before[0].iou(expected) > 0.7


def test_medians_are_reported_per_detector(face_size):
    frames = [np.full((48, 64, 3), 128, np.uint8)]
    medians = face_size.medians_ms({"a": lambda frame: None, "b": lambda frame: sum(range(1000))}, frames, 5)
    assert set(medians) == {"empty_ms_a", "empty_ms_b"} and all(value >= 0 for value in medians.values())
