"""Recognizer: the shared crops, batched classification, parity with conversion's verification."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_edge.dataset import load_labeled_folder
from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox, WholeImageDetector
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.recognizer import Recognizer


def test_recognizer_matches_verification_on_the_same_crops(converted, trained):
    """Same crops, same probabilities as convert's verification: the preprocessing is shared."""
    _, data, _ = trained
    classifier = TFLiteClassifier(converted["int8"].path)
    _, split, _ = load_labeled_folder(data / "val", classifier.metadata.preprocessing)
    expected = classifier.predict_pixels(split.pixels[:6])
    recognizer = Recognizer(classifier, WholeImageDetector())
    for path, probabilities in zip(split.paths[:6], expected):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        face = recognizer.recognize(rgb, color="rgb")[0]
        np.testing.assert_allclose(face.expression.probabilities, probabilities, atol=1e-6)


def test_all_faces_of_a_frame_in_one_batch(recognizer):
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = [FaceBox(10, 10, 40, 40), FaceBox(80, 20, 50, 60), FaceBox(-5, 70, 40, 40)]
    calls = []
    original = recognizer.classifier.predict_pixels
    recognizer.classifier.predict_pixels = lambda pixels: calls.append(len(pixels)) or original(pixels)
    try:
        batched = recognizer.classify(frame, boxes)
    finally:
        recognizer.classifier.predict_pixels = original
    assert calls == [3]
    one = [recognizer.classify(frame, [box])[0] for box in boxes]
    for a, b in zip(batched, one):
        np.testing.assert_allclose(a.expression.probabilities, b.expression.probabilities, atol=1e-6)
    assert recognizer.classify(frame, []) == []
    as_numbers = recognizer.classify(frame, [(10, 10, 40, 40), np.array([80, 20, 50, 60]), [-5.0, 70.0, 40, 40]])
    assert [face.box for face in as_numbers] == [FaceBox(10.0, 10.0, 40.0, 40.0), FaceBox(80.0, 20.0, 50.0, 60.0),
                                                  FaceBox(-5.0, 70.0, 40.0, 40.0)]
    for a, b in zip(batched, as_numbers):
        np.testing.assert_allclose(a.expression.probabilities, b.expression.probabilities, atol=1e-6)


@pytest.mark.parametrize("box", [(10, 10, 40), "10,10,40,40", (10, 10, 40, "40"), (True, 10, 40, 40), None, {"x": 1}])
def test_classify_refuses_what_is_not_a_box(recognizer, box):
    frame = np.zeros((120, 160, 3), np.uint8)
    with pytest.raises(FerEdgeError, match=r"^a face box is a fer_edge.FaceBox or four numbers \(x, y, width"):
        recognizer.classify(frame, [box])


class _Halves:
    """A fake classifier: p(first label) is the mean brightness of the left half of the face."""

    def __init__(self):
        from fer_edge.metadata import ModelMetadata
        from fer_edge.preprocess import Preprocessing

        self.metadata = ModelMetadata(("left", "right"), Preprocessing((8, 8), "grayscale"), tta="mirror")
        self.batches = []

    def predict_pixels(self, pixels):
        self.batches.append(len(pixels))
        left = pixels[:, :, :4].mean(axis=(1, 2, 3)) / 255.0
        return np.stack([left, 1.0 - left], axis=1)


def test_mirror_tta_averages_a_face_and_its_mirror_in_one_batch():
    from fer_edge.tta import MirrorAveraged, apply_tta

    fake = _Halves()
    pixels = np.zeros((3, 8, 8, 1), np.uint8)
    pixels[:, :, :4] = 255  # bright left half: 1.0 alone, 0.0 mirrored
    assert isinstance(apply_tta(fake), MirrorAveraged)  # the model's recorded default
    assert apply_tta(fake, "none") is fake
    np.testing.assert_allclose(fake.predict_pixels(pixels)[:, 0], 1.0)
    np.testing.assert_allclose(apply_tta(fake, "mirror").predict_pixels(pixels), 0.5)
    assert fake.batches[-1] == 6 and apply_tta(fake).metadata is fake.metadata
    with pytest.raises(FerEdgeError, match=r"expected pixels \(N, \(8, 8, 1\)\), got \(1, 4, 4, 1\)"):
        MirrorAveraged(fake).predict_pixels(np.zeros((1, 4, 4, 1), np.uint8))  # the caller's shape, not a doubled batch


def test_mirror_unsure_mirrors_only_the_faces_under_the_threshold():
    from dataclasses import replace

    from fer_edge.tta import MirrorWhenUnsure, apply_tta, tta_of

    fake = _Halves()
    fake.metadata = replace(fake.metadata, tta="mirror-unsure", tta_threshold=0.8)
    pixels = np.zeros((3, 8, 8, 1), np.uint8)
    pixels[0, :, :4] = 255  # sure: left half bright, p = (1, 0)
    pixels[1, :, :4] = 153  # unsure: p = (0.6, 0.4), mirrored (0, 1): averaged (0.3, 0.7)
    pixels[2] = 255  # even: p = (1, 0) as left is bright too; sure
    gated = apply_tta(fake)
    assert isinstance(gated, MirrorWhenUnsure) and tta_of(gated) == "mirror-unsure" and gated.below == 0.8
    np.testing.assert_allclose(gated.predict_pixels(pixels), [[1.0, 0.0], [0.3, 0.7], [1.0, 0.0]], atol=1e-6)
    assert fake.batches[-2:] == [3, 1]  # every face once, then the one unsure face mirrored
    fake.batches.clear()
    assert gated.predict_pixels(pixels[[0, 2]]).shape == (2, 2) and fake.batches == [2]  # all sure: one pass
    assert gated.predict_pixels(np.zeros((0, 8, 8, 1), np.uint8)).shape == (0, 2)
    with pytest.raises(FerEdgeError, match=r"expected pixels \(N, \(8, 8, 1\)\), got \(8, 8, 1\)"):
        gated.predict_pixels(pixels[0])  # one face without its batch axis
    assert tta_of(apply_tta(fake, "mirror")) == "mirror" and tta_of(apply_tta(fake, "none")) == "none"


def test_unknown_tta_mode_is_an_error():
    from fer_edge.tta import apply_tta

    with pytest.raises(FerEdgeError, match="test-time augmentation"):
        apply_tta(_Halves(), "rotate")


def test_recognizer_crops_with_the_models_geometry_for_the_detector():
    from fer_edge.crops import CropGeometry
    from fer_edge.metadata import ModelMetadata
    from fer_edge.preprocess import Preprocessing

    class Named(WholeImageDetector):
        name, crop_margin = "yunet", 0.2

    class Fake:
        metadata = ModelMetadata(("a", "b"), Preprocessing((8, 8)), crops={"yunet": CropGeometry(1.0, 0.25)})

    assert Recognizer(Fake(), Named()).geometry == CropGeometry(1.0, 0.25)
    assert Recognizer(Fake(), WholeImageDetector()).geometry == CropGeometry(1.0, 0.0)
    assert Recognizer(Fake(), Named(), framing=0.5).geometry == CropGeometry(1.5, 0.0)
