"""Detect every k-th frame, follow the faces in between by template matching."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_edge.checks import require_numbers, require_whole_numbers
from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox, FaceDetector, shrink_frame

WORK_WIDTH = 320
"""Frames are matched at most this wide: enough to place a face box, a fraction of the pixels."""


@dataclass(frozen=True)
class _Template:
    box: FaceBox
    patch: np.ndarray  # grayscale pixels of the box's visible part at work scale
    origin: tuple[int, int]  # the patch's top-left corner in the work-scale frame


class FollowingDetector:
    """A face detector that runs the real one on every `every`-th frame and follows boxes between.

    Between detections each face's grey patch from the last detection is searched for in a
    window around its last place (OpenCV's normalised cross-correlation, at most 320 px wide);
    the box moves with the best match, and a face whose best match scores under `min_score`
    is dropped until the next detection. Sizes do not change between detections.

    Args:
        detector: the detector to run on detection frames.
        every: run it on every k-th frame (1: every frame, this class then does nothing else).
        min_score: correlation a followed face needs to be kept.
        search: how far to look, as a fraction of the box size on each side.
    """

    def __init__(self, detector: FaceDetector, every: int = 1, min_score: float = 0.5, search: float = 0.5):
        require_whole_numbers("following detector", every=every)
        require_numbers("following detector", min_score=min_score, search=search)
        if every < 1:
            raise FerEdgeError(f"detect every k-th frame: k must be at least 1, got {every}")
        if not (0.0 <= min_score <= 1.0 and 0.0 < search <= 4.0):  # also refuses NaN
            raise FerEdgeError(f"min_score must be within [0, 1] and search within (0, 4], got {min_score}, {search}")
        self.detector, self.every, self.min_score, self.search = detector, every, min_score, search
        self.name = getattr(detector, "name", "detector")
        self._templates: list[_Template] = []
        self._count = 0
        self.detections = 0

    def detect(self, frame_rgb: np.ndarray) -> list[FaceBox]:
        """Faces of the next frame of a video: detected, or followed from the last detection."""
        self._count += 1
        if self.every == 1 or (self._count - 1) % self.every == 0:
            self.detections += 1
            boxes = self.detector.detect(frame_rgb)
            if self.every > 1:
                gray, scale = _work_gray(frame_rgb)
                self._templates = [t for t in (_template(gray, scale, box) for box in boxes) if t is not None]
            return boxes
        gray, scale = _work_gray(frame_rgb)
        followed = [self._follow(gray, scale, template) for template in self._templates]
        self._templates = [t for t in followed if t is not None]
        return [t.box for t in self._templates]

    def _follow(self, gray: np.ndarray, scale: float, template: _Template) -> _Template | None:
        import cv2

        height, width = template.patch.shape
        x, y = template.origin
        pad_x, pad_y = int(width * self.search) + 1, int(height * self.search) + 1
        left, top = max(0, x - pad_x), max(0, y - pad_y)
        right, bottom = min(gray.shape[1], x + width + pad_x), min(gray.shape[0], y + height + pad_y)
        if right - left < width or bottom - top < height:
            return None
        scores = cv2.matchTemplate(gray[top:bottom, left:right], template.patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (dx, dy) = cv2.minMaxLoc(scores)
        if not best >= self.min_score:  # also drops NaN (a flat patch)
            return None
        new_x, new_y = left + dx, top + dy
        box = _moved(template.box, (new_x - x) / scale, (new_y - y) / scale)
        return _Template(box, template.patch, (new_x, new_y))


def _work_gray(frame_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    import cv2

    gray = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, WORK_WIDTH / gray.shape[1])
    if scale < 1.0:
        gray = shrink_frame(gray, round(gray.shape[1] * scale), round(gray.shape[0] * scale))
    return gray, scale


def _template(gray: np.ndarray, scale: float, box: FaceBox) -> _Template | None:
    left, top = max(0, int(box.x * scale)), max(0, int(box.y * scale))
    right = min(gray.shape[1], int((box.x + box.width) * scale))
    bottom = min(gray.shape[0], int((box.y + box.height) * scale))
    if right - left < 4 or bottom - top < 4:
        return None
    return _Template(box, gray[top:bottom, left:right].copy(), (left, top))


def _moved(box: FaceBox, dx: float, dy: float) -> FaceBox:
    points = tuple((px + dx, py + dy) for px, py in box.landmarks)
    return FaceBox(box.x + dx, box.y + dy, box.width, box.height, box.score, points)
