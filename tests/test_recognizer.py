"""Recognizer: the shared crops, batched classification, parity with conversion's verification."""

from __future__ import annotations

import cv2
import numpy as np

from fer_edge.dataset import load_labeled_folder
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
        face = recognizer.recognize(rgb)[0]
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
