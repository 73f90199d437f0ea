"""Recognition: RGB frame -> face boxes -> shared crops -> one batched classification -> results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fer_edge.crops import crop_face
from fer_edge.faces import FaceBox, FaceDetector
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import to_model_pixels
from fer_edge.results import ClassProbabilities


class Classifier(Protocol):
    """A model that maps uint8 model pixels (N, H, W, C) to probabilities (N, classes)."""

    metadata: ModelMetadata

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of model pixels."""


@dataclass(frozen=True)
class FaceResult:
    """One recognized face.

    Attributes:
        box: where the face is, with the detector's score and landmarks.
        expression: probabilities of every label.
    """

    box: FaceBox
    expression: ClassProbabilities

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**self.box.to_dict(), **self.expression.to_dict()}


class Recognizer:
    """Detect faces, crop them with the shared geometry, classify all of them in one batch.

    Args:
        classifier: a TFLite (device) or Keras (workstation) classifier.
        detector: any FaceDetector.
        margin: crop margin; by default the detector's, as in training-time extraction.
    """

    def __init__(self, classifier: Classifier, detector: FaceDetector, margin: float | None = None):
        self.classifier = classifier
        self.detector = detector
        self.margin = detector.crop_margin if margin is None else margin
        self._prep = classifier.metadata.preprocessing

    def crops(self, frame_rgb: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
        """Model pixels (N, H, W, C) of each box."""
        size = self._prep.input_size
        return np.stack([to_model_pixels(crop_face(frame_rgb, box, size, self.margin), self._prep)
                         for box in boxes])

    def classify(self, frame_rgb: np.ndarray, boxes: list[FaceBox]) -> list[FaceResult]:
        """Expressions of the given faces of a frame."""
        if not boxes:
            return []
        probabilities = self.classifier.predict_pixels(self.crops(frame_rgb, boxes))
        labels = self.classifier.metadata.labels
        return [FaceResult(box, ClassProbabilities(labels, tuple(float(p) for p in row)))
                for box, row in zip(boxes, probabilities)]

    def recognize(self, frame_rgb: np.ndarray) -> list[FaceResult]:
        """Every face of an RGB uint8 frame with its expression, largest face first."""
        return self.classify(frame_rgb, self.detector.detect(frame_rgb))
