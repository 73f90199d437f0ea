"""Test-time augmentation: classifiers that average a face's and its mirror image's probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.metadata import TTA_MODES, ModelMetadata

AUTO = "auto"
"""Use the model's recorded default (`ModelMetadata.tta`)."""


class MirrorAveraged:
    """Wraps a classifier: each face is classified with its mirror image in the same batch, and averaged.

    Every other attribute (metadata, path, ...) is the wrapped classifier's.
    """

    def __init__(self, classifier: Any):
        self.classifier = classifier

    def __getattr__(self, name: str) -> Any:
        return getattr(self.classifier, name)

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Mean of the probabilities of `pixels` (N, H, W, C) and of their left-right mirror images."""
        # checked before the batch is doubled, so an error shows the caller's shape
        pixels = self.classifier.metadata.preprocessing.check_batch(pixels)
        count = len(pixels)
        both = np.concatenate([pixels, pixels[:, :, ::-1]])
        probabilities = np.asarray(self.classifier.predict_pixels(both), dtype=np.float32)
        return (probabilities[:count] + probabilities[count:]) / 2.0


class MirrorWhenUnsure:
    """Wraps a classifier: each face is classified as it is, and only a face whose highest probability is under
    `below` is classified again mirrored, the two probabilities averaged.

    Where the first pass is sure, the mirror image rarely changes the answer: for the shipped default this keeps
    mirror averaging's accuracy for half to two thirds of its extra time (docs/crop-framing.md). Every other
    attribute is the wrapped classifier's.
    """

    def __init__(self, classifier: Any, below: float):
        self.classifier = classifier
        self.below = below

    def __getattr__(self, name: str) -> Any:
        return getattr(self.classifier, name)

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities of `pixels` (N, H, W, C); for the faces the first pass is unsure of, mirror-averaged."""
        pixels = self.classifier.metadata.preprocessing.check_batch(pixels)
        probabilities = np.array(self.classifier.predict_pixels(pixels), dtype=np.float32)
        unsure = probabilities.max(axis=1) < self.below
        if unsure.any():
            mirrored = np.asarray(self.classifier.predict_pixels(pixels[unsure][:, :, ::-1]), dtype=np.float32)
            probabilities[unsure] = (probabilities[unsure] + mirrored) / 2.0
        return probabilities


def resolve_tta(mode: str, metadata: ModelMetadata) -> str:
    """The concrete mode (one of `TTA_MODES`) that `mode` means for a model ("auto": its recorded default).

    Raises:
        FerEdgeError: an unknown mode.
    """
    resolved = metadata.tta if mode == AUTO else mode
    if resolved not in TTA_MODES:
        raise FerEdgeError(f"test-time augmentation must be one of {(AUTO, *TTA_MODES)}, got {mode!r}")
    return resolved


def tta_of(classifier: Any) -> str:
    """The test-time augmentation a classifier applies: one of `TTA_MODES`."""
    if isinstance(classifier, MirrorAveraged):
        return "mirror"
    return "mirror-unsure" if isinstance(classifier, MirrorWhenUnsure) else "none"


def apply_tta(classifier: Any, mode: str = AUTO) -> Any:
    """`classifier` with test-time augmentation `mode` ("auto": the model's default, or one of `TTA_MODES`).

    "mirror-unsure" mirrors the faces whose highest probability is under the model's `tta_threshold`.

    Raises:
        FerEdgeError: an unknown mode.
    """
    resolved = resolve_tta(mode, classifier.metadata)
    if resolved == "mirror":
        return MirrorAveraged(classifier)
    if resolved == "mirror-unsure":
        return MirrorWhenUnsure(classifier, classifier.metadata.tta_threshold)
    return classifier
