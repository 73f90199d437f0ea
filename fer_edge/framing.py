"""Framing calibration: how a model's training faces sit around a detector's boxes, and whether mirror TTA pays.

FER2013 / FER+ faces are tight 48x48 crops. Each labelled face is upscaled and set in a larger
frame with replicated borders; the detector runs on the frame, and the face's own square is
expressed relative to the detected box: its side over the box's longer side (`scale`) and how far
its centre lies below the box's centre, as a fraction of its side (`shift_y`). The medians are the
`CropGeometry` that makes runtime crops of that detector's boxes look like the training faces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fer_edge.crops import CropGeometry
from fer_edge.errors import DatasetError, FerEdgeError
from fer_edge.faces import FaceBox
from fer_edge.images import read_image

logger = logging.getLogger(__name__)

UPSCALE = 4
"""48x48 faces become 192x192, a size detectors are built for."""
BORDER = 0.5
"""Border added on each side of the upscaled face, as a fraction of its side."""


@dataclass(frozen=True)
class Framing:
    """Where training faces sit around one detector's boxes.

    Attributes:
        detector: the detector's name.
        faces: faces tried; detected: faces the detector found.
        geometry: the median scale and shift (the calibrated `CropGeometry`).
        scale_quartiles, shift_quartiles: 25th, 50th and 75th percentiles.
    """

    detector: str
    faces: int
    detected: int
    geometry: CropGeometry
    scale_quartiles: tuple[float, float, float]
    shift_quartiles: tuple[float, float, float]

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"detector": self.detector, "faces": self.faces, "detected": self.detected,
                "geometry": self.geometry.to_dict(), "scale_quartiles": list(self.scale_quartiles),
                "shift_y_quartiles": list(self.shift_quartiles)}


def framed(face_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """A face crop upscaled and set in a frame with replicated borders: (frame, the face's side in it)."""
    import cv2

    side = face_rgb.shape[0] * UPSCALE
    big = cv2.resize(face_rgb, (side, side), interpolation=cv2.INTER_CUBIC)
    pad = int(side * BORDER)
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE), float(side)


def central_face(boxes: list[FaceBox], frame: np.ndarray) -> FaceBox | None:
    """The detected box whose centre is nearest the frame's centre (None when there is none)."""
    if not boxes:
        return None
    cx, cy = frame.shape[1] / 2, frame.shape[0] / 2
    return min(boxes, key=lambda box: (box.center[0] - cx) ** 2 + (box.center[1] - cy) ** 2)


def detect_framed(paths, detector, progress: bool = False) -> list[tuple[np.ndarray, FaceBox | None, float]]:
    """(frame, central detected box or None, face side) for every face crop in `paths`."""
    from tqdm import tqdm

    found = []
    for path in tqdm(paths, desc=f"frame faces ({detector.name})", unit="face", disable=not progress):
        frame, side = framed(read_image(path))
        found.append((frame, central_face(detector.detect(frame), frame), side))
    return found


def measure_framing(found, detector_name: str) -> Framing:
    """The median framing of the faces the detector found.

    Raises:
        DatasetError: the detector found none of the faces.
    """
    scales, shifts = [], []
    for frame, box, side in found:
        if box is not None:
            scales.append(side / max(box.width, box.height))
            shifts.append((frame.shape[0] / 2 - box.center[1]) / side)
    if not scales:
        raise DatasetError(f"{detector_name} found none of the {len(found)} faces: nothing to calibrate")
    scale_q = tuple(float(q) for q in np.percentile(scales, (25, 50, 75)))
    shift_q = tuple(float(q) for q in np.percentile(shifts, (25, 50, 75)))
    try:
        geometry = CropGeometry(round(scale_q[1], 3), round(shift_q[1], 3))
    except FerEdgeError as exc:
        raise DatasetError(f"{detector_name}: the faces' median framing is scale {scale_q[1]:.3f}, shift_y "
                           f"{shift_q[1]:.3f}, which no crop can have ({exc}); calibrate on tight face crops like "
                           "the model's training faces (FER+ valid), not on photos") from exc
    logger.info("%s: %d of %d faces found; median scale %.3f, shift_y %.3f", detector_name, len(scales),
                len(found), geometry.scale, geometry.shift_y)
    return Framing(detector_name, len(found), len(scales), geometry, scale_q, shift_q)


def mirror_gain(classifier, pixels: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy on `pixels` without and with mirror test-time augmentation."""
    from fer_edge.tta import MirrorAveraged

    plain = float((classifier.predict_pixels(pixels).argmax(axis=1) == labels).mean())
    mirrored = float((MirrorAveraged(classifier).predict_pixels(pixels).argmax(axis=1) == labels).mean())
    return plain, mirrored


def calibration_target(model: str | Path) -> Path:
    """The metadata file a calibration is recorded into: a `.keras` model's `.meta.json` (conversion embeds it), or
    that of a `.tflite` model without embedded metadata.

    Raises:
        FerEdgeError: a missing model, or a `.tflite` with embedded metadata (which a sidecar could never change).
    """
    from fer_edge.metadata import sidecar_path
    from fer_edge.model_files import resolve_model
    from fer_edge.tflite_metadata import read_embedded_json

    path = resolve_model(model)
    if path.suffix == ".tflite" and read_embedded_json(path.read_bytes()) is not None:
        raise FerEdgeError(f"a calibration is recorded in a .keras model's metadata, before converting; {model} has "
                           "its metadata embedded, which a .meta.json beside it cannot change: calibrate the .keras "
                           "model it came from and convert it again (--json keeps this calibration)")
    return sidecar_path(path)


def record_calibration(metadata_path: str | Path, framings: list[Framing], tta: str | None,
                       tta_threshold: float | None = None) -> None:
    """Write calibrated geometries (and the TTA default and its threshold, unless None) into a model's metadata file."""
    from fer_edge.metadata import load_metadata, save_metadata

    metadata = load_metadata(metadata_path)
    crops = {**metadata.crops, **{framing.detector: framing.geometry for framing in framings}}
    save_metadata(replace(metadata, crops=crops, tta=tta or metadata.tta,
                          tta_threshold=metadata.tta_threshold if tta_threshold is None else tta_threshold),
                  metadata_path)


@dataclass(frozen=True)
class Calibration:
    """A model's framing per detector and its accuracy on labelled crops without and with mirror TTA."""

    framings: tuple[Framing, ...]
    faces: int
    accuracy: float
    accuracy_mirror: float

    @property
    def tta(self) -> str:
        """The test-time augmentation that pays on these faces: "mirror" or "none"."""
        return "mirror" if self.accuracy_mirror > self.accuracy else "none"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"faces": self.faces, "accuracy": self.accuracy, "accuracy_mirror": self.accuracy_mirror,
                "tta": self.tta, "framings": [framing.to_dict() for framing in self.framings]}


def calibrate(model: str | Path, data: str | Path, detectors: tuple[str, ...] = ("yunet",), limit: int = 0,
              seed: int = 0, progress: bool = False) -> Calibration:
    """Measure a model's framing for each detector on labelled face crops, and what mirror TTA gives.

    Args:
        model: a `.keras` or `.tflite` model (or "default").
        data: a labelled folder of face crops like the training faces (FER+ `valid`: a vote folder).
        detectors: detector names ("yunet", "mtcnn").
        limit: frame at most this many faces per detector (0: all), drawn with `seed`.

    Raises:
        FerEdgeError: an unreadable model or folder, classes that are not the model's labels,
            or a detector that finds no face.
    """
    from fer_edge.dataset import load_labeled_folder
    from fer_edge.evaluation import map_classes_to_labels
    from fer_edge.faces import DetectorOptions, create_detector
    from fer_edge.model_files import load_classifier

    classifier = load_classifier(model, tta="none")
    classes, split, _ = load_labeled_folder(data, classifier.metadata.preprocessing, progress=progress)
    labels = map_classes_to_labels(classes, classifier.metadata.labels)[split.labels]
    plain, mirrored = mirror_gain(classifier, split.pixels, labels)
    order = np.random.default_rng(seed).permutation(len(labels))[:limit or None]
    paths = [split.paths[i] for i in order]
    framings = tuple(measure_framing(detect_framed(paths, create_detector(name, DetectorOptions()), progress), name)
                     for name in detectors)
    return Calibration(framings, len(labels), plain, mirrored)
