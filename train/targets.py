"""Training targets: soft vote shares blended with a second label set of the same faces, matched by pixels."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.dataset import Split, load_split
from fer_edge.errors import DatasetError
from fer_edge.labels import canonical_label
from fer_edge.preprocess import Preprocessing

logger = logging.getLogger(__name__)

THUMBNAIL = 12
"""Faces are matched on 12x12 thumbnails (robust to JPEG noise), then checked at full size."""
MAX_MEAN_ABS_DIFF = 8.0
"""Grey levels: a pair further apart than this at full size is not the same face (JPEG noise is ~1-3)."""


@dataclass(frozen=True)
class FaceMatch:
    """For each face of a split, the index of the same face in another split (-1: none), and the distance."""

    index: np.ndarray
    mean_abs_diff: np.ndarray

    @property
    def matched(self) -> np.ndarray:
        """Boolean mask of the faces that have a match."""
        return self.index >= 0


def _thumbnails(pixels: np.ndarray) -> np.ndarray:
    import cv2

    gray = pixels[..., 0] if pixels.shape[-1] == 1 else pixels.mean(axis=-1).astype(np.uint8)
    small = np.stack([cv2.resize(face, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA) for face in gray])
    flat = small.reshape(len(small), -1).astype(np.float32)
    return flat - flat.mean(axis=1, keepdims=True)


def match_faces(pixels: np.ndarray, others: np.ndarray, chunk: int = 2048) -> FaceMatch:
    """Find each face of `pixels` among `others` (same size uint8 model pixels) by nearest thumbnail.

    A nearest neighbour counts as the same face when its full-size mean absolute difference
    is at most `MAX_MEAN_ABS_DIFF` grey levels.
    """
    a, b = _thumbnails(pixels), _thumbnails(others)
    b_norms = (b * b).sum(axis=1)
    nearest = np.empty(len(a), np.int64)
    for start in range(0, len(a), chunk):
        block = a[start:start + chunk]
        distances = b_norms[None, :] - 2.0 * block @ b.T  # + |a|^2, the same for every candidate
        nearest[start:start + chunk] = distances.argmin(axis=1)
    diff = np.abs(pixels.astype(np.int16) - others[nearest].astype(np.int16)).reshape(len(a), -1).mean(axis=1)
    index = np.where(diff <= MAX_MEAN_ABS_DIFF, nearest, -1)
    return FaceMatch(index, diff)


def _class_map(source: tuple[str, ...], target: tuple[str, ...]) -> np.ndarray:
    names = [canonical_label(name) for name in target]
    missing = [name for name in source if canonical_label(name) not in names]
    if missing:
        raise DatasetError(f"--blend-labels classes {missing} are not classes of the training data {list(target)}")
    return np.array([names.index(canonical_label(name)) for name in source], np.int64)


def blend_labels(split: Split, classes: tuple[str, ...], folder: str | Path, weight: float,
                 prep: Preprocessing, workers: int = 4) -> Split:
    """Blend the labels of another ImageFolder of the same faces into `split`'s targets.

    target = (1 - weight) * own target + weight * one-hot(label in `folder`), for every face
    found in `folder` by `match_faces`; faces without a match keep their own target.
    Classes are matched by name (`angry` = `anger`).

    Raises:
        DatasetError: `folder` has a class the training data lacks, or no face matches.
    """
    if not 0.0 < weight < 1.0:
        raise DatasetError(f"--blend-weight must be between 0 and 1 (exclusive), got {weight}")
    other_classes, other, _ = load_split(Path(folder), prep, workers)
    match = match_faces(split.pixels, other.pixels)
    if not match.matched.any():
        raise DatasetError(f"no face of the training data was found in {folder}: not the same faces")
    mapped = _class_map(other_classes, classes)[other.labels]
    targets = split.target_matrix(len(classes))
    rows = np.flatnonzero(match.matched)
    hard = np.eye(len(classes), dtype=np.float32)[mapped[match.index[rows]]]
    targets[rows] = (1.0 - weight) * targets[rows] + weight * hard
    logger.info("blended labels of %s into %d of %d faces (weight %.2f)", folder, len(rows), len(split), weight)
    return Split(split.pixels, targets.argmax(axis=1).astype(np.int64), split.paths, targets)


@dataclass(frozen=True)
class AuxTargets:
    """Second-head targets of a split: one-hot labels of the same faces in another folder.

    Attributes:
        classes: the other folder's classes (the second head's labels).
        targets: float32 (N, len(classes)) one-hot rows (zeros for unmatched faces).
        weights: float32 (N,) 1 for matched faces, 0 for faces the other folder lacks.
    """

    classes: tuple[str, ...]
    targets: np.ndarray
    weights: np.ndarray


def aux_targets(split: Split, folder: str | Path, prep: Preprocessing, workers: int = 4) -> AuxTargets:
    """Labels of `split`'s faces found (by pixels) in the ImageFolder `folder`, for a second head.

    Raises:
        DatasetError: no face of `split` is in `folder`.
    """
    classes, other, _ = load_split(Path(folder), prep, workers)
    match = match_faces(split.pixels, other.pixels)
    if not match.matched.any():
        raise DatasetError(f"no face of the training data was found in {folder}: not the same faces")
    targets = np.zeros((len(split), len(classes)), np.float32)
    rows = np.flatnonzero(match.matched)
    targets[rows, other.labels[match.index[rows]]] = 1.0
    logger.info("second-head labels from %s for %d of %d faces", folder, len(rows), len(split))
    return AuxTargets(classes, targets, match.matched.astype(np.float32))
