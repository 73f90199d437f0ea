"""Recognition: image -> face boxes -> shared crops -> one batched classification -> results."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fer_edge.crops import CropGeometry, GeometryOrMargin, as_geometry, crop_model_pixels
from fer_edge.errors import FerEdgeError
from fer_edge.faces import DetectorOptions, FaceBox, FaceDetector
from fer_edge.metadata import ModelMetadata
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

    @property
    def label(self) -> str:
        """The most probable expression."""
        return self.expression.label

    @property
    def confidence(self) -> float:
        """Probability of the most probable expression."""
        return self.expression.confidence

    @property
    def probabilities(self) -> dict[str, float]:
        """Every expression's probability, most probable first."""
        return dict(self.expression.ranked())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**self.box.to_dict(), **self.expression.to_dict()}

    def scaled(self, factor: float) -> "FaceResult":
        """The same face with its box in an image `factor` times larger."""
        return self if factor == 1 else FaceResult(self.box.scaled(factor), self.expression)


def framing_for(metadata: ModelMetadata, detector: FaceDetector) -> CropGeometry:
    """How to crop `detector`'s boxes for a model: its calibrated geometry, else the detector's margin."""
    return metadata.crop_geometry(detector.name, detector.crop_margin)


COLOR_ORDERS = ("rgb", "bgr", "gray")


def refuse_non_image(image: object) -> None:
    """Raise a `FerEdgeError` naming what to do for None, encoded bytes or an open file given as an image."""
    if isinstance(image, (bytes, bytearray)):
        hint = " (decode bytes with fer_edge.images.decode_image first)"
    elif hasattr(image, "read"):
        hint = " (pass its path, or read its bytes and decode them with fer_edge.images.decode_image)"
    elif image is None:
        hint = ""
    else:
        return
    raise FerEdgeError(f"expected an image file's path or an 8-bit image array, got {type(image).__name__}{hint}")


def to_rgb(image: np.ndarray, color: str | None) -> np.ndarray:
    """An image array in the named colour order as RGB uint8 (the one conversion, at the boundary).

    Raises:
        FerEdgeError: no or an unknown colour order, an array that is not an 8-bit image, or
            one whose shape does not match `color` (a 2-D array must be called "gray").
    """
    import cv2

    if color not in COLOR_ORDERS:
        raise FerEdgeError(f"say which colour order the array has: color= one of {COLOR_ORDERS} "
                           f"(OpenCV frames are 'bgr', PIL arrays 'rgb'); got {color!r}")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise FerEdgeError(f"expected an 8-bit image array (uint8), got {image.dtype}")
    if image.size == 0:
        raise FerEdgeError(f"the image array is empty (shape {image.shape})")
    if image.ndim == 2 and color != "gray":
        raise FerEdgeError(f"a 2-D array (shape {image.shape}) is a gray image, not {color}: "
                           "pass color='gray'")
    if color == "gray":
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        if image.ndim != 2:
            raise FerEdgeError(f"a gray image must be (H, W) or (H, W, 1), got shape {image.shape}")
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise FerEdgeError(f"expected an (H, W, 3) or (H, W, 4) {color} image, got shape {image.shape}")
    image = image[..., :3]
    return np.ascontiguousarray(image[..., ::-1] if color == "bgr" else image)


class Recognizer:
    """Detect faces, crop them with the shared geometry, classify all of them in one batch.

    Build one with `Recognizer.load(...)`, or from any classifier and detector.

    Args:
        classifier: a TFLite (device) or Keras (workstation) classifier.
        detector: any FaceDetector.
        framing: crop geometry (or margin); by default the one the model's metadata records for
            this detector, else the detector's default margin.
    """

    def __init__(self, classifier: Classifier, detector: FaceDetector,
                 framing: GeometryOrMargin | None = None):
        self.classifier = classifier
        self.detector = detector
        self.geometry: CropGeometry = (framing_for(classifier.metadata, detector) if framing is None
                                       else as_geometry(framing))
        self._prep = classifier.metadata.preprocessing

    @classmethod
    def load(cls, model: str | Path = "default", detector: str = "yunet", threads: int = 1, tta: str = "auto",
             detection: DetectorOptions | None = None, delegate: str | None = None) -> "Recognizer":
        """A recognizer for a model file or the shipped model.

        Args:
            model: a model shipped inside the package, "default" (fast) or "accurate"
                (larger, more accurate), or a `.tflite` (or, with the workstation extra, `.keras`) file.
            detector: "yunet" (device), "mtcnn" (workstation) or "none" (images are face crops).
            threads: interpreter CPU threads.
            tta: test-time augmentation: "auto" (the model's recorded default), "none", "mirror" or "mirror-unsure".
            detection: detector options (default: `DetectorOptions()`, YuNet at its fast width).
            delegate: "gpu" or a path to a TFLite delegate library.

        Raises:
            FerEdgeError: a missing or unreadable model, an unknown detector or option.
        """
        from fer_edge.faces import create_detector
        from fer_edge.model_files import load_classifier

        classifier = load_classifier(model, threads, delegate, tta=tta)
        return cls(classifier, create_detector(detector, detection or DetectorOptions()))

    @property
    def labels(self) -> tuple[str, ...]:
        """The expressions the model tells apart, in its output order."""
        return self.classifier.metadata.labels

    def crops(self, frame_rgb: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
        """Model pixels (N, H, W, C) of each box."""
        return np.stack([crop_model_pixels(frame_rgb, box, self._prep, self.geometry) for box in boxes])

    def classify(self, frame_rgb: np.ndarray, boxes: list) -> list[FaceResult]:
        """Expressions of the given faces of a frame, all in one batch.

        Args:
            frame_rgb: an RGB uint8 frame (H, W, 3).
            boxes: FaceBox objects or (x, y, width, height) in the frame's pixels, from any detector.

        Raises:
            FerEdgeError: a frame that is not RGB uint8, a box that is not four finite numbers
                with a positive size, or one outside the frame.
        """
        boxes = [FaceBox.of(box) for box in boxes or ()]
        if not boxes:
            return []
        probabilities = self.classifier.predict_pixels(self.crops(frame_rgb, boxes))
        labels = self.classifier.metadata.labels
        return [FaceResult(box, ClassProbabilities(labels, tuple(float(p) for p in row)))
                for box, row in zip(boxes, probabilities)]

    def recognize(self, image: str | Path | np.ndarray, color: str | None = None) -> list[FaceResult]:
        """Every face of an image with its expression, largest face first.

        Args:
            image: an image file's path, or an 8-bit array.
            color: the array's colour order, "rgb", "bgr" (OpenCV) or "gray"; required for arrays,
                never guessed. Files are decoded by their content.

        Raises:
            FerEdgeError: an unreadable file (`ImageDecodeError`), an array without its colour order,
                or neither a path nor an array.
        """
        refuse_non_image(image)
        if isinstance(image, (str, os.PathLike)):
            from fer_edge.images import read_image_scaled

            frame, factor = read_image_scaled(image)  # boxes in the file's own pixels, even when decoded reduced
            return [face.scaled(factor) for face in self.recognize_rgb(frame)]
        return self.recognize_rgb(to_rgb(image, color))

    def recognize_rgb(self, frame_rgb: np.ndarray) -> list[FaceResult]:
        """`recognize` for an RGB uint8 frame already in memory (the kiosk loop's fast path)."""
        return self.classify(frame_rgb, self.detector.detect(frame_rgb))
