"""Integration on the real FER2013 folders (skipped when ../shared is absent)."""

from __future__ import annotations

import pytest

from conftest import FER2013, needs_fer2013
from fer_edge.dataset import load_dataset
from fer_edge.preprocess import Preprocessing
from fer_edge.evaluation import evaluate_classifier
from fer_edge.train.keras_io import KerasClassifier
from fer_edge.train.training import TrainOptions, train

pytestmark = [needs_fer2013, pytest.mark.slow]
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def test_fer2013_layout_loads_as_splits():
    dataset = load_dataset(FER2013, Preprocessing(), max_per_class=20)
    assert dataset.classes == CLASSES
    assert len(dataset.splits["train"]) == 140
    assert len(dataset.splits["val"]) == 3266
    assert dataset.splits["val"].pixels.shape[1:] == (64, 64, 3)


def test_paper_model_trains_and_evaluates_on_fer2013(tmp_path):
    options = TrainOptions(epochs=1, max_per_class=60, verbose=0)
    result = train(FER2013, tmp_path / "run", options)
    assert result.history["loss"][0] > 0 and len(result.history["val_accuracy"]) == 1
    classifier = KerasClassifier(result.model_path)
    assert classifier.metadata.labels == CLASSES and classifier.model.count_params() == 177_047
    evaluation = evaluate_classifier(classifier, FER2013, split="val")
    assert evaluation.report.n == 3266
    assert evaluation.report.accuracy == pytest.approx(result.best_val_accuracy, abs=1e-4)


def test_conversion_bars_on_fer2013_val(tmp_path):
    from fer_edge.convert.tflite import convert_model
    from fer_edge.convert.verify import verify

    result = train(FER2013, tmp_path / "run", TrainOptions(epochs=2, max_per_class=300, verbose=0))
    checks = {}
    for quant in ("fp32", "fp16", "int8"):
        converted = convert_model(result.model_path, tmp_path / f"{quant}.tflite", quant, FER2013, samples=300)
        checks[quant] = verify(result.model_path, converted.path, FER2013, split="val")
    assert checks["fp32"].n == 3266
    assert checks["fp32"].agreement == 1.0 and checks["fp32"].max_abs_probability_diff < 1e-4
    assert checks["fp16"].agreement >= 0.995
    assert checks["int8"].agreement >= 0.98
    assert abs(checks["int8"].tflite_accuracy - checks["int8"].keras_accuracy) <= 0.015


def test_demo_on_fer2013_benchmarks_both_models_on_labelled_faces(tmp_path):
    from fer_edge.convert.demo import run_demo

    result = run_demo(tmp_path / "demo", FER2013, epochs=1, max_per_class=30)
    assert result.metrics["n"] == 3266
    names = {record.name for record in result.bench}
    assert {"edge yunet@256+default_int8 x1", "edge yunet@256+model_int8 x1", "full mtcnn+keras"} <= names
    assert all(record.accuracy is not None for record in result.bench)  # labelled FER2013 faces
    assert (tmp_path / "demo" / "README.md").read_text().count("(") >= 5
