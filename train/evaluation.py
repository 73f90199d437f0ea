"""Evaluation of a Keras model on an ImageFolder: loss, metrics, per-image probabilities."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from fer_edge.dataset import Split, has_split_folders, load_labeled_folder
from fer_edge.errors import DatasetError
from fer_edge.images import read_image
from fer_edge.metadata import ModelMetadata
from fer_edge.metrics import ClassificationReport, classification_report
from fer_edge.preprocess import normalize, preprocess
from fer_edge.results import ClassProbabilities


@dataclass(frozen=True)
class Evaluation:
    """Metrics plus the per-image probabilities they came from."""

    report: ClassificationReport
    loss: float
    probabilities: np.ndarray
    labels: np.ndarray
    paths: tuple[Path, ...]
    skipped: int

    def to_dict(self) -> dict:
        """JSON-ready metrics (`n`, `loss`, `accuracy`, `macro_f1`, `per_class`, `confusion_matrix`, ...)."""
        return {**self.report.to_dict(), "loss": self.loss, "skipped_files": self.skipped}


def map_classes_to_labels(classes: tuple[str, ...], labels: tuple[str, ...]) -> np.ndarray:
    """Index of each dataset class in the model's labels, matched by name.

    Raises:
        DatasetError: a dataset class is not one of the model's labels.
    """
    unknown = [name for name in classes if name not in labels]
    if unknown:
        raise DatasetError(
            f"dataset classes {unknown} are not labels of the model (model labels: {list(labels)})"
        )
    return np.array([labels.index(name) for name in classes], dtype=np.int64)


def resolve_eval_folder(data: str | Path, split: str | None) -> Path:
    """The ImageFolder to evaluate: `data/<split>` when given or when data has split folders."""
    data = Path(data)
    if split:
        return data / split
    if has_split_folders(data):
        for name in ("test", "val"):
            if (data / name).is_dir():
                return data / name
    return data


def predict_pixels(model: keras.Model, pixels: np.ndarray, metadata: ModelMetadata,
                   batch_size: int = 256) -> np.ndarray:
    """Probabilities (N, classes) for uint8 model pixels, normalized by the shared preprocessing.

    Small batches call the model directly (far less overhead per frame than `predict`).
    """
    inputs = normalize(pixels, metadata.preprocessing)
    if len(inputs) <= batch_size:
        return np.asarray(model(inputs, training=False), dtype=np.float64)
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float64)


def evaluate_keras(model: keras.Model, metadata: ModelMetadata, data: str | Path,
                   split: str | None = None, workers: int = 4) -> Evaluation:
    """Evaluate on a folder of face crops; dataset classes are matched to model labels by name."""
    folder = resolve_eval_folder(data, split)
    classes, loaded, skipped = load_labeled_folder(folder, metadata.preprocessing, workers)
    y_true = map_classes_to_labels(classes, metadata.labels)[loaded.labels]
    probabilities = predict_pixels(model, loaded.pixels, metadata)
    return _evaluation(probabilities, y_true, loaded, metadata.labels, len(skipped))


def _evaluation(probabilities, y_true, loaded: Split, labels, skipped: int) -> Evaluation:
    picked = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    report = classification_report(y_true, probabilities.argmax(axis=1), labels)
    return Evaluation(report, float(-np.log(picked).mean()), probabilities, y_true, loaded.paths, skipped)


def write_predictions_csv(evaluation: Evaluation, path: str | Path) -> None:
    """One row per image: path, true label, predicted label, then every class probability."""
    labels = evaluation.report.labels
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true", "predicted", *labels])
        for row, (probs, true) in enumerate(zip(evaluation.probabilities, evaluation.labels)):
            writer.writerow([str(evaluation.paths[row]), labels[true], labels[int(probs.argmax())],
                             *(f"{p:.6f}" for p in probs)])


def classify_image_files(model: keras.Model, metadata: ModelMetadata, paths) -> list[ClassProbabilities]:
    """Class probabilities for each image file, the whole image being the face crop.

    Raises:
        ImageDecodeError: for the first unreadable file.
    """
    inputs = np.stack([preprocess(read_image(path), metadata.preprocessing) for path in paths])
    probabilities = model.predict(inputs, verbose=0)
    return [ClassProbabilities(metadata.labels, tuple(float(p) for p in row)) for row in probabilities]
