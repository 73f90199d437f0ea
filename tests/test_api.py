"""The public Python API: only names from `fer_edge.__all__`, on the shipped model and a real face photo."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest

import fer_edge
from conftest import FACE_PHOTO


@pytest.fixture(scope="module")
def face_photo():
    return fer_edge.read_image(FACE_PHOTO)  # RGB uint8, one real face


@pytest.fixture(scope="module")
def default_recognizer():
    """The shipped default model behind YuNet: what `fer-edge[device]` installs (conftest's `recognizer` trains one)."""
    return fer_edge.Recognizer.load("default")


def test_every_public_name_exists():
    assert sorted(fer_edge.__all__) == sorted(set(fer_edge.__all__))
    for name in fer_edge.__all__:
        assert getattr(fer_edge, name) is not None


def test_recognize_a_file_an_rgb_array_and_a_bgr_frame_alike(default_recognizer, face_photo, tmp_path):
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(face_photo, cv2.COLOR_RGB2BGR))
    from_file = default_recognizer.recognize(path)
    from_rgb = default_recognizer.recognize(face_photo, color="rgb")
    from_bgr = default_recognizer.recognize(np.ascontiguousarray(face_photo[..., ::-1]), color="bgr")
    assert len(from_file) == len(from_rgb) == len(from_bgr) == 1
    face = from_file[0]
    assert isinstance(face, fer_edge.FaceResult) and isinstance(face.box, fer_edge.FaceBox)
    assert face.label in default_recognizer.labels
    assert face.label == max(face.probabilities, key=face.probabilities.get)
    assert face.confidence == pytest.approx(max(face.probabilities.values()))
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=0.02)
    assert 150 < face.box.x < 200 and 50 < face.box.y < 110 and 80 < face.box.width < 140  # her face
    for other in (from_rgb[0], from_bgr[0]):
        assert other.box == face.box and other.probabilities == face.probabilities


def test_a_huge_jpeg_is_decoded_reduced_with_boxes_in_its_own_pixels(default_recognizer, face_photo, tmp_path):
    from click.testing import CliRunner

    from fer_edge.cli import cli

    height, width = face_photo.shape[:2]
    big = cv2.resize(face_photo, (width * 12, height * 12), interpolation=cv2.INTER_LINEAR)  # 37.7 MP
    path = tmp_path / "poster.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    small = default_recognizer.recognize(face_photo, color="rgb")[0].box
    faces = default_recognizer.recognize(path)  # decoded at 1/2 (9.4 MP)
    assert len(faces) == 1 and faces[0].box.iou(small.scaled(12)) > 0.85
    result = CliRunner().invoke(cli, ["predict", str(path), "--json"])
    assert result.exit_code == 0, result.output
    box = json.loads(result.output)[str(path)]["faces"][0]["box"]
    assert abs(box[0] - small.x * 12) < 0.05 * small.width * 12 and abs(box[2] / (small.width * 12) - 1) < 0.1


def test_gray_arrays_are_accepted_with_their_colour_order(default_recognizer, face_photo):
    gray = cv2.cvtColor(face_photo, cv2.COLOR_RGB2GRAY)
    faces = default_recognizer.recognize(gray, color="gray")
    assert len(faces) == 1 and faces[0].box.iou(default_recognizer.recognize(face_photo, color="rgb")[0].box) > 0.8


@pytest.mark.parametrize("array, color, message", [
    (np.zeros((64, 64, 3), np.uint8), None, "colour order"),
    (np.zeros((64, 64, 3), np.uint8), "yuv", "colour order"),
    (np.zeros((64, 64, 3), np.float32), "rgb", "8-bit"),
    (np.zeros((64, 64, 5), np.uint8), "rgb", "shape"),
    (np.zeros((4, 64, 64, 3), np.uint8), "rgb", "shape"),
    (np.zeros((0, 0, 3), np.uint8), "rgb", "empty"),
    (np.zeros((0, 64), np.uint8), "gray", "empty"),
    (np.zeros((64, 64), np.uint8), "rgb", r"\(shape \(64, 64\)\) is a gray image, not rgb: pass color='gray'"),
    (np.zeros((64, 64), np.uint8), "bgr", "pass color='gray'"),
    (np.zeros((64, 64, 3), np.uint8), "gray", r"gray image must be \(H, W\) or \(H, W, 1\)"),
    (None, "rgb", r"path or an 8-bit image array, got NoneType$"),
    (b"\xff\xd8\xff", None, r"got bytes \(decode bytes with fer_edge.images.decode_image first\)"),
    (io.BytesIO(b"\xff\xd8\xff"), None, r"got BytesIO \(pass its path, or read its bytes and decode them with"),
])
def test_bad_arrays_are_clear_errors(default_recognizer, array, color, message):
    with pytest.raises(fer_edge.FerEdgeError, match=message):
        default_recognizer.recognize(array, color=color)


def test_bad_files_and_models_are_clear_errors(default_recognizer, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(fer_edge.ImageDecodeError):
        default_recognizer.recognize(tmp_path / "broken.jpg")
    with pytest.raises(fer_edge.ModelError, match="not found"):
        fer_edge.Recognizer.load(tmp_path / "missing.tflite")
    with pytest.raises(fer_edge.FerEdgeError, match="detector"):
        fer_edge.Recognizer.load("default", detector="haar")
    with pytest.raises(fer_edge.ModelError, match="a model is one of default, accurate or a file path, got int"):
        fer_edge.Recognizer.load(5)


def test_the_pieces_make_a_custom_loop(face_photo):
    classifier = fer_edge.load_classifier("default", tta="none")
    detector = fer_edge.create_detector("yunet", fer_edge.DetectorOptions(detect_width=0))
    box = detector.detect(face_photo)[0]
    geometry = classifier.metadata.crop_geometry(detector.name, detector.crop_margin)
    pixels = fer_edge.crop_model_pixels(face_photo, box, classifier.metadata.preprocessing, geometry)
    probabilities = classifier.predict_pixels(pixels[np.newaxis])[0]
    whole = fer_edge.Recognizer(classifier, detector).recognize(face_photo, color="rgb")[0]
    np.testing.assert_allclose(probabilities, whole.expression.probabilities, atol=1e-6)


def test_a_custom_loop_follows_faces_and_reports_visitor_sessions(visitors_video):
    """The kiosk pieces from Python: detect every 3rd frame, smooth, and turn tracks into sessions."""
    recognizer = fer_edge.Recognizer.load("default")
    finder = fer_edge.FollowingDetector(recognizer.detector, every=3)
    tracker = fer_edge.SmoothingTracker(window=5, max_missed_s=2.0)
    sessions = fer_edge.SessionTracker(fer_edge.SessionOptions(timeout_s=2.0, summary_every_s=0, kiosk_id="api"))
    capture, events, index = cv2.VideoCapture(str(visitors_video)), [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        now = index / 15
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        events += sessions.update(now, tracker.update(recognizer.classify(rgb, finder.detect(rgb)), now))
        index += 1
    events += sessions.close(index / 15)
    ends = [e for e in events if e["type"] == "session_end"]
    happy = next(label for label in recognizer.labels if label.startswith("happ"))  # FER2013 or FER+ spelling
    assert index == 180 and finder.detections == 60 and len(ends) == 3
    assert [round(e["start"], 2) for e in ends] == [0.0, 4.0, 8.0] and {e["dominant"] for e in ends} == {happy}


def test_labels_of_any_spelling_compare_alike(default_recognizer):
    assert fer_edge.canonical_label("happy") == fer_edge.canonical_label("Happiness") == "happiness"
    canonical = {fer_edge.canonical_label(label) for label in default_recognizer.labels}
    assert canonical >= {"happiness", "anger", "sadness"}
    with pytest.raises(fer_edge.FerEdgeError, match="label is a string, got NoneType"):
        fer_edge.canonical_label(None)
