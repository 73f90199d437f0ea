"""Verification: the Keras model and its TFLite conversion on the same images, side by side."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_edge.dataset import load_labeled_folder
from fer_edge.errors import ModelError
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.evaluation import map_classes_to_labels, resolve_eval_folder
from fer_edge.metadata import ModelMetadata
from fer_edge.train.evaluation import predict_pixels
from fer_edge.train.keras_io import load_keras_model


@dataclass(frozen=True)
class Verification:
    """How closely a TFLite model follows its Keras original."""

    n: int
    keras_accuracy: float
    tflite_accuracy: float
    agreement: float
    max_abs_probability_diff: float
    keras_size_bytes: int
    tflite_size_bytes: int
    quantization: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def verify(keras_path: str | Path, tflite_path: str | Path, data: str | Path,
           split: str | None = None) -> Verification:
    """Run both models on the labeled images of `data` (test, else val, else the folder itself).

    Raises:
        ModelError: unreadable models, or a TFLite model whose labels or preprocessing differ from the Keras
            model's (not its conversion).
        FerEdgeError: bad data.
    """
    model, metadata = load_keras_model(keras_path)
    classifier = TFLiteClassifier(tflite_path)
    _require_conversion_of(classifier.metadata, metadata, tflite_path, keras_path)
    classes, loaded, _ = load_labeled_folder(resolve_eval_folder(data, split), metadata.preprocessing)
    y_true = map_classes_to_labels(classes, metadata.labels)[loaded.labels]
    keras_probs = predict_pixels(model, loaded.pixels, metadata)
    tflite_probs = classifier.predict_pixels(loaded.pixels).astype(np.float64)
    keras_top, tflite_top = keras_probs.argmax(axis=1), tflite_probs.argmax(axis=1)
    return Verification(
        n=len(y_true),
        keras_accuracy=float((keras_top == y_true).mean()),
        tflite_accuracy=float((tflite_top == y_true).mean()),
        agreement=float((keras_top == tflite_top).mean()),
        max_abs_probability_diff=float(np.abs(keras_probs - tflite_probs).max()),
        keras_size_bytes=Path(keras_path).stat().st_size,
        tflite_size_bytes=Path(tflite_path).stat().st_size,
        quantization=str(classifier.metadata.extra.get("quantization", "unknown")),
    )


def _require_conversion_of(converted: ModelMetadata, original: ModelMetadata, tflite_path, keras_path) -> None:
    for what, mine, theirs in (("labels", converted.labels, original.labels),
                               ("preprocessing", converted.preprocessing, original.preprocessing)):
        if mine != theirs:
            raise ModelError(f"{tflite_path} is not a conversion of {keras_path}: its {what} {mine} differ from "
                             f"{theirs}; pass the .keras model it was converted from")
