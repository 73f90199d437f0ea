"""Preprocessing, defined once: face crop (RGB uint8) -> model pixels -> normalized model input.

Training (`train/`), conversion (`convert/`) and the device runtime all import these
functions, so what the model sees cannot drift between them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fer_edge.errors import FerEdgeError

COLOR_MODES = ("rgb", "grayscale")


@dataclass(frozen=True)
class Preprocessing:
    """How a face crop becomes model input; travels with every model as metadata.

    Attributes:
        input_size: (height, width) of the model input.
        color_mode: "rgb" (3 channels) or "grayscale" (1 channel).
        scale: normalized = pixel * scale + offset, pixel in [0, 255].
        offset: see `scale`. The default maps pixels to [0, 1].
    """

    input_size: tuple[int, int] = (64, 64)
    color_mode: str = "rgb"
    scale: float = 1.0 / 255.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        height, width = self.input_size
        if height < 8 or width < 8:
            raise FerEdgeError(f"input size must be at least 8x8, got {height}x{width}")
        if self.color_mode not in COLOR_MODES:
            raise FerEdgeError(f"color mode must be one of {COLOR_MODES}, got {self.color_mode!r}")
        object.__setattr__(self, "input_size", (int(height), int(width)))

    @property
    def channels(self) -> int:
        """Number of input channels: 3 for rgb, 1 for grayscale."""
        return 3 if self.color_mode == "rgb" else 1

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one model input."""
        return (*self.input_size, self.channels)

    def check_batch(self, pixels) -> np.ndarray:
        """`pixels` as an array, after checking it is a batch (N, H, W, C) of this input shape.

        Raises:
            FerEdgeError: another shape.
        """
        pixels = np.asarray(pixels)
        if pixels.ndim != 4 or pixels.shape[1:] != self.input_shape:
            raise FerEdgeError(f"expected pixels (N, {self.input_shape}), got {pixels.shape}")
        return pixels

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessing":
        """Inverse of `to_dict`; unknown keys are an error."""
        try:
            return cls(**{**data, "input_size": tuple(data["input_size"])})
        except (KeyError, TypeError, ValueError) as exc:
            raise FerEdgeError(f"invalid preprocessing metadata {data!r}: {exc}") from exc


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an image (RGB or grey) to (height, width): area interpolation when shrinking, bilinear when enlarging."""
    import cv2

    height, width = size
    _require_pixels(image)
    if height < 1 or width < 1:
        raise FerEdgeError(f"an image cannot be resized to {width}x{height}: both sides must be at least 1")
    if image.shape[:2] == (height, width):
        return image
    shrinking = image.shape[0] > height or image.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def to_model_pixels(face_rgb: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Convert an RGB uint8 face crop to the model's colour and resize it: uint8 (H, W, C) for the model.

    A grayscale model's face is made grey before it is resized: a third of the averaging of resizing three
    channels for a large face, and the same pixels within one grey level.
    """
    import cv2

    if face_rgb.ndim != 3 or face_rgb.shape[2] != 3 or face_rgb.dtype != np.uint8:
        raise FerEdgeError(
            f"expected an RGB uint8 image (H, W, 3), got {face_rgb.dtype} {face_rgb.shape}"
        )
    _require_pixels(face_rgb)
    if prep.color_mode == "grayscale":
        return resize_rgb(cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY), prep.input_size)[..., np.newaxis]
    return resize_rgb(face_rgb, prep.input_size)


def _require_pixels(image: np.ndarray) -> None:
    if image.size == 0:
        raise FerEdgeError(f"cannot resize an empty image (shape {image.shape})")


def normalize(pixels: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Map uint8 model pixels to float32 model input: pixels * scale + offset."""
    return pixels.astype(np.float32) * np.float32(prep.scale) + np.float32(prep.offset)


def preprocess(face_rgb: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Face crop (RGB uint8) -> float32 model input of shape `prep.input_shape`."""
    return normalize(to_model_pixels(face_rgb, prep), prep)
