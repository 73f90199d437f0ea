"""Keras inference for evaluation: uint8 model pixels -> probabilities through the shared normalization."""

from __future__ import annotations

import keras
import numpy as np

from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import normalize


def predict_pixels(model: keras.Model, pixels: np.ndarray, metadata: ModelMetadata,
                   batch_size: int = 256) -> np.ndarray:
    """Probabilities (N, classes) for uint8 model pixels, normalized by the shared preprocessing.

    Small batches call the model directly (far less overhead per frame than `predict`).
    """
    inputs = normalize(pixels, metadata.preprocessing)
    if len(inputs) <= batch_size:
        return np.asarray(model(inputs, training=False), dtype=np.float64)
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float64)
