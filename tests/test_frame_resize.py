"""benchmarks/frame_resize.py: the exact averagings of before against the runtime's, on placed faces."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FACE_PHOTO, load_benchmark
from fer_edge.faces import DetectorOptions, YuNetDetector
from fer_edge.images import read_image
from fer_edge.model_files import load_classifier
from fer_edge.recognizer import Recognizer


@pytest.fixture(scope="module")
def frame_resize():
    return load_benchmark("frame_resize")


@pytest.fixture(scope="module")
def frames(frame_resize):
    photo = read_image(FACE_PHOTO)
    face = YuNetDetector(DetectorOptions(detect_width=0)).detect(photo)[0]
    return frame_resize.frames_with_faces([(photo, face)] * 3, seed=1)


def test_faces_are_placed_at_sizes_between_24_and_240_px(frames):
    assert len(frames) == 3
    for frame, box, side in frames:
        assert frame.shape == (480, 640, 3) and 24 <= side <= 240
        assert min(box.width, box.height) == pytest.approx(side)


def test_both_detectors_find_each_placed_face_with_agreeing_boxes(frame_resize, frames):
    detectors = {"area": frame_resize.AreaDetector(DetectorOptions()), "now": YuNetDetector(DetectorOptions())}
    result = frame_resize.agreement(frames, detectors)
    assert result["faces"] == 3 and result["found"] == {"area": 1.0, "now": 1.0}
    assert result["largest_box_iou_median"] > 0.95 and result["largest_box_iou_under_0.9"] == 0.0


def test_the_crops_of_before_are_the_runtimes_within_one_grey_level(frame_resize, frames):
    classifier = load_classifier("default", tta="none")
    detector = YuNetDetector(DetectorOptions())
    frame, _, _ = frames[0]
    boxes = detector.detect(frame)
    before = frame_resize.RecognizerBefore(classifier, detector).crops(frame, boxes)
    now = Recognizer(classifier, detector).crops(frame, boxes)
    assert before.shape == now.shape == (len(boxes), 48, 48, 1)
    assert np.abs(before.astype(int) - now).max() <= 1


def test_times_are_reported_for_every_model_before_and_now(frame_resize, frames):
    detectors = {"area": frame_resize.AreaDetector(DetectorOptions()), "now": YuNetDetector(DetectorOptions())}
    times = {**frame_resize.times_ms(frames, detectors, 1), **frame_resize.frame_ms(frames, ["default"], 1)}
    assert set(times) == {"reduce_area_ms", "reduce_now_ms", "detect_area_ms", "detect_now_ms",
                          "frame_default_before_ms", "frame_default_now_ms"}
    assert all(value > 0 for value in times.values())
