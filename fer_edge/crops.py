"""Crops: the one geometry that turns a face box into a classifier input, shared by training and device.

The crop is a square centred on the box, with side `max(width, height) * (1 + margin)`;
parts outside the image are filled by repeating the border pixels, then the square is
resized to the requested size with the shared resize rule of `fer_edge.preprocess`.
"""

from __future__ import annotations

import math

import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.faces import FACE_MARGIN as DEFAULT_MARGIN
from fer_edge.faces import FaceBox
from fer_edge.preprocess import resize_rgb


def square_region(box: FaceBox, margin: float = DEFAULT_MARGIN) -> tuple[int, int, int]:
    """(left, top, side) in integer pixels of the square crop around `box`."""
    if box.width <= 0 or box.height <= 0:
        raise FerEdgeError(f"face box must have a positive size, got {box.width}x{box.height}")
    if margin < 0:
        raise FerEdgeError(f"crop margin must be >= 0, got {margin}")
    side = max(1, int(round(max(box.width, box.height) * (1.0 + margin))))
    cx, cy = box.center
    return int(math.floor(cx - side / 2)), int(math.floor(cy - side / 2)), side


def crop_face(image_rgb: np.ndarray, box: FaceBox, size: int | tuple[int, int],
              margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """Square crop with margin around `box`, border-padded, resized to `size` (RGB uint8).

    Args:
        image_rgb: the frame, RGB uint8 (H, W, 3).
        box: the face, in the frame's pixels.
        size: output side, or (height, width).
        margin: extra fraction of the box's longer side.
    """
    import cv2

    left, top, side = square_region(box, margin)
    height, width = image_rgb.shape[:2]
    pad_left, pad_top = max(0, -left), max(0, -top)
    pad_right, pad_bottom = max(0, left + side - width), max(0, top + side - height)
    region = image_rgb[max(0, top):min(height, top + side), max(0, left):min(width, left + side)]
    if region.size == 0:
        raise FerEdgeError(f"face box {box.to_dict()['box']} lies outside the {width}x{height} image")
    if pad_left or pad_top or pad_right or pad_bottom:
        region = cv2.copyMakeBorder(region, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    out_size = (size, size) if isinstance(size, int) else tuple(size)
    return resize_rgb(np.ascontiguousarray(region), out_size)
