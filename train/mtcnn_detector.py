"""MTCNN face detector (workstation only): the `mtcnn` 1.0.0 package on TensorFlow, weights from its wheel."""

from __future__ import annotations

import numpy as np

from fer_edge.faces import FACE_MARGIN, DetectorOptions, FaceBox, check_image, filter_faces, width_within

# mtcnn names points from the viewer's side, which is our image order.
_LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
MTCNN_MAX_PIXELS = 4_000_000
"""MTCNN searches a larger image shrunk to this many pixels, boxes scaled back (a 16-megapixel image without a
face took 32 s and 2 GB at full size)."""


class MtcnnDetector:
    """The paper's pretrained MTCNN, behind the same interface as YuNet."""

    name = "mtcnn"
    crop_margin = FACE_MARGIN

    def __init__(self, options: DetectorOptions = DetectorOptions()):
        from mtcnn import MTCNN

        self.options = options
        self._mtcnn = MTCNN(device="CPU:0")

    def detect(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB uint8 image, boxes not clipped to the image (as YuNet's)."""
        check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        shrunk = width_within(height, width, MTCNN_MAX_PIXELS)
        if shrunk < width:
            import cv2

            size = (shrunk, max(1, round(height * shrunk / width)))
            image_rgb = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
        found = self._mtcnn.detect_faces(image_rgb, fit_to_image=False)
        boxes = [self._to_box(face).scaled(width / image_rgb.shape[1], height / image_rgb.shape[0]) for face in found]
        return filter_faces(boxes, self.options)

    @staticmethod
    def _to_box(face: dict) -> FaceBox:
        x, y, width, height = (float(v) for v in face["box"])
        points = tuple(tuple(float(v) for v in face["keypoints"][name]) for name in _LANDMARKS)
        return FaceBox(x, y, width, height, float(face["confidence"]), points)
