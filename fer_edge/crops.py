"""Crops: the one geometry that turns a face box into a classifier input, shared by training and device.

The crop is a square of side `scale * max(width, height)` centred on the box, moved down by
`shift_y * side` (a `CropGeometry`, recorded per detector in each model's metadata); parts outside
the image are filled by repeating the border pixels, then the square is resized to the requested
size with the shared resize rule of `fer_edge.preprocess` (`crop_face`, RGB), or made a model's pixels by
`fer_edge.preprocess.to_model_pixels` (`crop_model_pixels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_edge.checks import require_numbers
from fer_edge.errors import FerEdgeError
from fer_edge.faces import FACE_MARGIN as DEFAULT_MARGIN
from fer_edge.faces import FaceBox
from fer_edge.preprocess import Preprocessing, resize_rgb, to_model_pixels


@dataclass(frozen=True)
class CropGeometry:
    """How a face is framed around a detector's box.

    Attributes:
        scale: side of the square crop as a multiple of the box's longer side (1.2 = 20% margin).
        shift_y: the crop's centre moved down by this fraction of its side (negative: up).
    """

    scale: float = 1.0 + DEFAULT_MARGIN
    shift_y: float = 0.0

    def __post_init__(self) -> None:
        require_numbers("crop geometry", scale=self.scale, shift_y=self.shift_y)
        if not (math.isfinite(self.scale) and 0.5 <= self.scale <= 4.0):
            raise FerEdgeError(f"crop scale must be between 0.5 and 4, got {self.scale}")
        if not (math.isfinite(self.shift_y) and abs(self.shift_y) <= 0.5):
            raise FerEdgeError(f"crop shift_y must be between -0.5 and 0.5, got {self.shift_y}")

    @classmethod
    def from_margin(cls, margin: float) -> "CropGeometry":
        """A centred square with `margin` (fraction of the longer side) around the box."""
        if margin < 0:
            raise FerEdgeError(f"crop margin must be >= 0, got {margin}")
        return cls(1.0 + margin, 0.0)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {"scale": self.scale, "shift_y": self.shift_y}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CropGeometry":
        """Inverse of `to_dict`."""
        return cls(float(data["scale"]), float(data.get("shift_y", 0.0)))


GeometryOrMargin = CropGeometry | float
"""A crop geometry, or a plain margin (a centred square)."""


def as_geometry(framing: GeometryOrMargin) -> CropGeometry:
    """`framing` as a `CropGeometry` (a number is a margin)."""
    return framing if isinstance(framing, CropGeometry) else CropGeometry.from_margin(float(framing))


def square_region(box: FaceBox, framing: GeometryOrMargin = DEFAULT_MARGIN) -> tuple[int, int, int]:
    """(left, top, side) in integer pixels of the square crop around `box`."""
    if not math.isfinite(box.x + box.y + box.width + box.height):
        raise FerEdgeError(f"face box must have finite coordinates, got {box.to_dict()['box']}")
    if box.width <= 0 or box.height <= 0:
        raise FerEdgeError(f"face box must have a positive size, got {box.width}x{box.height}")
    geometry = as_geometry(framing)
    side = max(1, int(round(max(box.width, box.height) * geometry.scale)))
    cx, cy = box.center
    cy += geometry.shift_y * side
    return int(math.floor(cx - side / 2)), int(math.floor(cy - side / 2)), side


def crop_face(image_rgb: np.ndarray, box: FaceBox, size: int | tuple[int, int],
              framing: GeometryOrMargin = DEFAULT_MARGIN) -> np.ndarray:
    """Square crop framed around `box`, border-padded, resized to `size` (RGB uint8).

    Args:
        image_rgb: the frame, RGB uint8 (H, W, 3).
        box: the face, in the frame's pixels.
        size: output side, or (height, width).
        framing: a `CropGeometry`, or a margin: extra fraction of the box's longer side.
    """
    out_size = (size, size) if isinstance(size, int) else tuple(size)
    return resize_rgb(_framed_region(image_rgb, box, framing), out_size)


def crop_model_pixels(image_rgb: np.ndarray, box: FaceBox, prep: Preprocessing,
                      framing: GeometryOrMargin = DEFAULT_MARGIN) -> np.ndarray:
    """A model's pixels (H, W, C uint8) of the face in `box`: `crop_face` at the model's input size, in its colour.

    The framed region goes through `fer_edge.preprocess.to_model_pixels` unresized, so a grayscale model's region
    is made grey before it is averaged down (0.46 against 0.73 ms for a 500 px face here, against resizing it in
    colour as `crop_face` does).

    Args:
        image_rgb: the frame, RGB uint8 (H, W, 3).
        box: the face, in the frame's pixels.
        prep: the model's preprocessing (input size and colour mode).
        framing: a `CropGeometry`, or a margin: extra fraction of the box's longer side.

    Raises:
        FerEdgeError: a frame that is not RGB uint8, or a box that is not finite, positive and on the frame.
    """
    return to_model_pixels(_framed_region(image_rgb, box, framing), prep)


def _framed_region(image_rgb: np.ndarray, box: FaceBox, framing: GeometryOrMargin) -> np.ndarray:
    """The square of the frame that `framing` puts around `box`, its parts outside the frame border-replicated."""
    import cv2

    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 \
            or image_rgb.dtype != np.uint8:
        raise FerEdgeError(f"faces are cropped from an RGB uint8 image (H, W, 3), got "
                           f"{getattr(image_rgb, 'dtype', type(image_rgb).__name__)} {getattr(image_rgb, 'shape', '')}")
    left, top, side = square_region(box, framing)
    height, width = image_rgb.shape[:2]
    pad_left, pad_top = max(0, -left), max(0, -top)
    pad_right, pad_bottom = max(0, left + side - width), max(0, top + side - height)
    bottom, right = min(height, top + side), min(width, left + side)
    if bottom <= max(0, top) or right <= max(0, left):  # (a negative end would slice from the far side)
        raise FerEdgeError(f"the crop framed around face box {box.to_dict()['box']} ({side} px square at {left},{top}) "
                           f"lies outside the {width}x{height} image")
    region = image_rgb[max(0, top):bottom, max(0, left):right]
    if pad_left or pad_top or pad_right or pad_bottom:
        region = cv2.copyMakeBorder(region, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(region)
