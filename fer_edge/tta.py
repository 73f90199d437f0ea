"""Test-time augmentation: a classifier that averages a face's and its mirror image's probabilities."""

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


def resolve_tta(mode: str, metadata: ModelMetadata) -> str:
    """The concrete mode ("none" or "mirror") that `mode` means for a model ("auto": its recorded default).

    Raises:
        FerEdgeError: an unknown mode.
    """
    resolved = metadata.tta if mode == AUTO else mode
    if resolved not in TTA_MODES:
        raise FerEdgeError(f"test-time augmentation must be one of {(AUTO, *TTA_MODES)}, got {mode!r}")
    return resolved


def tta_of(classifier: Any) -> str:
    """The test-time augmentation a classifier applies: "mirror" or "none"."""
    return "mirror" if isinstance(classifier, MirrorAveraged) else "none"


def apply_tta(classifier: Any, mode: str = AUTO) -> Any:
    """`classifier` with test-time augmentation `mode` ("auto": the model's default, "none", "mirror").

    Raises:
        FerEdgeError: an unknown mode.
    """
    return MirrorAveraged(classifier) if resolve_tta(mode, classifier.metadata) == "mirror" else classifier
