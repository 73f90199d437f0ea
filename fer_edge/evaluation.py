"""Evaluation of any classifier (.tflite or .keras) on labeled images: metrics and per-image probabilities."""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge import workstation
from fer_edge.crops import crop_model_pixels
from fer_edge.dataset import Split, has_split_folders, load_labeled_folder, split_folder
from fer_edge.errors import DatasetError, ImageDecodeError, MissingDependencyError
from fer_edge.files import ensure_folder, require_outside_data, write_atomic, write_json
from fer_edge.images import read_image, scan_image_folder
from fer_edge.labels import canonical_label
from fer_edge.metrics import ClassificationReport, classification_report
from fer_edge.recognizer import framing_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """Metrics plus the per-image probabilities they came from."""

    report: ClassificationReport
    loss: float
    probabilities: np.ndarray
    labels: np.ndarray
    paths: tuple[Path, ...]
    skipped: int
    no_face: int = 0

    def to_dict(self) -> dict:
        """JSON-ready metrics (`n`, `loss`, `accuracy`, `macro_f1`, `per_class`, `confusion_matrix`, ...)."""
        return {**self.report.to_dict(), "loss": self.loss, "skipped_files": self.skipped,
                "no_face": self.no_face}


def map_classes_to_labels(classes: tuple[str, ...], labels: tuple[str, ...]) -> np.ndarray:
    """Index of each dataset class in the model's labels, matched by name (`angry` matches `anger`).

    Raises:
        DatasetError: a dataset class is not one of the model's labels.
    """
    model_names = [canonical_label(name) for name in labels]
    unknown = [name for name in classes if canonical_label(name) not in model_names]
    if unknown:
        raise DatasetError(
            f"dataset classes {unknown} are not labels of the model (model labels: {list(labels)})"
        )
    return np.array([model_names.index(canonical_label(name)) for name in classes], dtype=np.int64)


def report_labels(classes: tuple[str, ...], labels: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    """The model's labels plus any dataset class it lacks, and each dataset class's index in them.

    A class the model cannot predict (FER+'s contempt for a FER2013 model) stays in the report
    with recall 0: its images count as wrong, they are not dropped.

    Raises:
        DatasetError: no dataset class is a label of the model (the wrong folder or model).
    """
    model_names = [canonical_label(name) for name in labels]
    missing = tuple(name for name in classes if canonical_label(name) not in model_names)
    if len(missing) == len(classes):
        raise DatasetError(f"none of the dataset classes {list(classes)} is a label of the model "
                           f"(model labels: {list(labels)}): is this the right model or folder?")
    for name in missing:
        logger.warning("dataset class %r is not a label of the model: its images count as wrong", name)
    extended = (*labels, *missing)
    index = [model_names.index(canonical_label(c)) if c not in missing else extended.index(c) for c in classes]
    return extended, np.array(index, dtype=np.int64)


def resolve_eval_folder(data: str | Path, split: str | None) -> Path:
    """The ImageFolder to evaluate: `data/<split>` when given or when data has split folders."""
    data = Path(data)
    if split:
        return data / split
    if has_split_folders(data):
        for name in ("test", "val"):
            if (folder := split_folder(data, name)) is not None:
                return folder
    return data


def face_pixels(folder: Path, metadata, detector) -> tuple[tuple[str, ...], Split, int, int]:
    """Model pixels of the largest face of every photo; counts unreadable files and photos with no face.

    Faces are cropped with the framing the model's metadata records for the detector.
    """
    prep, geometry = metadata.preprocessing, framing_for(metadata, detector)
    scanned = scan_image_folder(folder)
    pixels, labels, paths, skipped, no_face = [], [], [], 0, 0
    for path, label in scanned.files:
        try:
            image = read_image(path)
        except ImageDecodeError as exc:
            logger.warning("skipped %s", exc)
            skipped += 1
            continue
        faces = detector.detect(image)
        if not faces:
            no_face += 1
            continue
        pixels.append(crop_model_pixels(image, faces[0], prep, geometry))
        labels.append(label)
        paths.append(path)
    if not pixels:
        raise DatasetError(f"no face found in any image of {folder}")
    return scanned.classes, Split(np.stack(pixels), np.array(labels), tuple(paths)), skipped, no_face


def evaluate_classifier(classifier, data: str | Path, split: str | None = None, detector=None) -> Evaluation:
    """Evaluate on labeled images: face crops (no detector) or photos (the detector finds each face).

    Dataset classes are matched to the model's labels by name; a class the model lacks counts as wrong.
    """
    folder, prep = resolve_eval_folder(data, split), classifier.metadata.preprocessing
    if detector is None or detector.name == "none":
        classes, loaded, skipped = load_labeled_folder(folder, prep)
        skipped, no_face = len(skipped), 0
    else:
        classes, loaded, skipped, no_face = face_pixels(folder, classifier.metadata, detector)
    labels, index = report_labels(classes, classifier.metadata.labels)
    y_true = index[loaded.labels]
    probabilities = np.asarray(classifier.predict_pixels(loaded.pixels), dtype=np.float64)
    predictable = y_true < probabilities.shape[1]
    picked = np.where(predictable, probabilities[np.arange(len(y_true)), np.where(predictable, y_true, 0)], 0.0)
    picked = np.clip(picked, 1e-12, 1.0)
    report = classification_report(y_true, probabilities.argmax(axis=1), labels)
    return Evaluation(report, float(-np.log(picked).mean()), probabilities, y_true, loaded.paths, skipped, no_face)


def write_predictions_csv(evaluation: Evaluation, path: str | Path) -> None:
    """One row per image: path, true label, predicted label, then every class probability."""
    labels = evaluation.report.labels
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["path", "true", "predicted", *labels[:evaluation.probabilities.shape[1]]])
    for row, (probs, true) in enumerate(zip(evaluation.probabilities, evaluation.labels)):
        writer.writerow([str(evaluation.paths[row]), labels[true], labels[int(probs.argmax())],
                         *(f"{p:.6f}" for p in probs)])
    write_atomic(path, text.getvalue().encode())


def write_report(evaluation: Evaluation, out_dir: str | Path, extra: dict, history: Path | None = None) -> dict:
    """metrics.json and predictions.csv, plus PNG plots when matplotlib is installed; returns the files."""
    out_dir = Path(out_dir)
    ensure_folder(out_dir)
    files = {"metrics": out_dir / "metrics.json", "predictions": out_dir / "predictions.csv"}
    write_json(files["metrics"], {**evaluation.to_dict(), **extra})
    write_predictions_csv(evaluation, files["predictions"])
    try:
        plots = workstation.load("train.plots")
    except MissingDependencyError:
        logger.info("matplotlib is not installed: no plots")
        return files
    plot_confusion, plot_history = plots.plot_confusion, plots.plot_history
    files["confusion_matrix"] = plot_confusion(evaluation.report, out_dir / "confusion_matrix.png")
    if history is not None and history.exists():
        files["training_curves"] = plot_history(json.loads(history.read_text()), out_dir / "training_curves.png")
    return files


@dataclass(frozen=True)
class WrittenReport:
    """Metrics and the files written for them."""

    metrics: dict
    files: dict[str, Path]


def evaluate_and_report(model: str | Path | None, data: str | Path, split: str | None, out_dir: str | Path,
                        detector=None, tta: str = "auto") -> WrittenReport:
    """Evaluate a `.tflite`/`.keras` model (None: the shipped one) on `data`; write the report to `out_dir`.

    `tta` is the test-time augmentation ("auto": the model's recorded default, "none", "mirror", "mirror-unsure").

    Training curves are drawn when the model's run folder has a `history.json`.

    Raises:
        FerEdgeError: a missing or unreadable model, bad data, or an `out_dir` inside `data`.
    """
    require_outside_data(out_dir, data)
    ensure_folder(out_dir)  # before the evaluation, which can take minutes
    from fer_edge.model_files import load_classifier
    from fer_edge.tta import tta_of

    classifier = load_classifier(model, tta=tta)
    evaluation = evaluate_classifier(classifier, data, split, detector)
    extra = {"model": str(classifier.path), "data": str(data),
             "detector": detector.name if detector is not None else "none",
             "tta": tta_of(classifier)}
    files = write_report(evaluation, out_dir, extra, Path(classifier.path).parent / "history.json")
    return WrittenReport({**evaluation.to_dict(), **extra}, files)
