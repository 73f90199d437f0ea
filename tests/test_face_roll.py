"""benchmarks/face_roll.py: the eye-line roll of a face, and MTCNN's landmarks following a photo turned 15 degrees."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from conftest import FACE_PHOTO, WORKSTATION, load_benchmark
from fer_edge.faces import FaceBox, create_detector
from fer_edge.images import read_image


@pytest.fixture(scope="module")
def face_roll():
    return load_benchmark("face_roll")


@pytest.mark.parametrize("right_eye, roll", [((20.0, 10.0), 0.0), ((20.0, 20.0), 45.0), ((20.0, 0.0), -45.0)])
def test_eye_roll_is_the_angle_of_the_eye_line(face_roll, right_eye, roll):
    face = FaceBox(0, 0, 30, 30, landmarks=((10.0, 10.0), right_eye, (15.0, 15.0), (11.0, 20.0), (19.0, 20.0)))
    assert face_roll.eye_roll(face) == pytest.approx(roll)
    assert face_roll.eye_roll(FaceBox(0, 0, 30, 30)) is None


@pytest.mark.skipif(not WORKSTATION, reason="MTCNN needs the workstation install (TensorFlow)")
def test_mtcnn_landmarks_follow_a_photo_turned_by_15_degrees(face_roll):
    photo = read_image(FACE_PHOTO)
    upright, tilted = face_roll.rolls([photo, face_roll.turned(photo, 15.0)], create_detector("mtcnn"))
    assert tilted - upright == pytest.approx(-15.0, abs=3.0)  # counter-clockwise: the right eye rises
    assert face_roll.photo_rolls([photo], create_detector("mtcnn")) == ([pytest.approx(upright)],
                                                                        [pytest.approx(upright - tilted)])


def test_turned_keeps_the_size_and_turns_the_content(face_roll):
    image = np.zeros((40, 60, 3), np.uint8)
    image[18:22, 10:50] = 255  # a level bar through the centre
    upright = face_roll.turned(image, 90.0)
    assert upright.shape == image.shape and upright[5:35, 28:32].mean() > 200 and upright[18:22, 5:20].mean() < 50


def test_summary_of_known_rolls(face_roll):
    stats = face_roll.summary([-30.0, -5.0, 0.0, 5.0, 12.0])
    assert stats["faces"] == 5 and stats["median_abs_deg"] == 5.0
    assert stats["share_over_10_deg"] == 0.4 and stats["share_over_20_deg"] == 0.2
    assert face_roll.summary([]) == {"faces": 0}


def test_main_skips_unreadable_photos_and_writes_json(face_roll, tmp_path):
    photos, ferplus = tmp_path / "photos" / "happiness", tmp_path / "ferplus"
    photos.mkdir(parents=True), ferplus.mkdir()
    shutil.copy(FACE_PHOTO, photos / "face.jpg")
    (photos / "broken.jpg").write_bytes(b"not an image")
    face = cv2.resize(cv2.imread(str(FACE_PHOTO), cv2.IMREAD_GRAYSCALE)[73:173, 175:275], (48, 48))  # a FER-like crop
    cv2.imwrite(str(ferplus / "fer0001.png"), face)
    out = tmp_path / "roll.json"
    result = face_roll.main(["--photos", str(tmp_path / "photos"), "--ferplus", str(ferplus), "--detector", "yunet",
                             "--json", str(out)])
    assert list(result) == ["yunet"] and json.loads(out.read_text()) == result
    assert result["yunet"]["photos"]["faces"] == result["yunet"]["ferplus_valid_framed"]["faces"] == 1
    assert result["yunet"]["photos"]["median_abs_deg"] < 5
    assert isinstance(result["yunet"]["photos_turned_15_deg_median_change"], float)
