"""Evaluation of .tflite models without TensorFlow, on crops and on photos through a detector."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import PHOTOS, needs_photos
from fer_edge.evaluation import evaluate_classifier, map_classes_to_labels
from fer_edge.errors import DatasetError
from fer_edge.faces import create_detector
from fer_edge.interpreter import TFLiteClassifier

ROOT = Path(__file__).resolve().parent.parent


def test_class_mapping_by_name():
    assert map_classes_to_labels(("sad", "happy"), ("happy", "neutral", "sad")).tolist() == [2, 0]
    with pytest.raises(DatasetError, match=r"\['angry'\]"):
        map_classes_to_labels(("angry",), ("happy", "sad"))


def test_evaluate_tflite_on_crops_matches_verification(converted, trained):
    from fer_edge.convert.verify import verify

    model, data, _ = trained
    evaluation = evaluate_classifier(TFLiteClassifier(converted["int8"].path), data, split="val")
    check = verify(model, converted["int8"].path, data, split="val")
    assert evaluation.report.n == 400
    assert evaluation.report.accuracy == pytest.approx(check.tflite_accuracy)
    assert np.trace(evaluation.report.confusion) == round(check.tflite_accuracy * 400)


def test_cli_evaluate_tflite_without_tensorflow(converted, trained, tmp_path):
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from fer_edge.cli import cli\n"
        f"cli(['evaluate', {str(converted['int8'].path)!r}, {str(trained[1])!r}, '--split', 'val', '--json', "
        f"'--out', {str(tmp_path)!r}], prog_name='fer-edge')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(result.stdout)
    assert {"n", "accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(metrics)
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "predictions.csv").exists()


@needs_photos
@pytest.mark.slow
def test_evaluate_photos_through_yunet(converted, tmp_path):
    for name in ("happy", "sad"):
        (tmp_path / name).mkdir()
        source = "happiness" if name == "happy" else "sadness"
        for path in sorted((PHOTOS / source).iterdir())[:4]:
            shutil.copy(path, tmp_path / name / path.name)
    (tmp_path / "sad" / "empty.png").write_bytes(b"")  # unreadable: counted as skipped
    evaluation = evaluate_classifier(TFLiteClassifier(converted["int8"].path), tmp_path,
                                     detector=create_detector("yunet"))
    assert evaluation.report.n + evaluation.no_face == 8
    assert evaluation.report.n >= 7 and evaluation.skipped == 1


def test_a_class_the_model_lacks_counts_as_wrong(synthetic_faces, tmp_path):
    """FER+'s contempt for a FER2013 model: kept in the report with recall 0, its images wrong."""
    import numpy as np

    from fer_edge.evaluation import evaluate_classifier, report_labels, write_predictions_csv
    from fer_edge.metadata import ModelMetadata
    from fer_edge.preprocess import Preprocessing

    class AlwaysHappy:
        metadata = ModelMetadata(("happiness", "sadness"), Preprocessing((32, 32)))

        def predict_pixels(self, pixels):
            return np.tile([0.9, 0.1], (len(pixels), 1))

    labels, index = report_labels(("happy", "sad", "surprise"), AlwaysHappy.metadata.labels)
    assert labels == ("happiness", "sadness", "surprise") and index.tolist() == [0, 1, 2]
    evaluation = evaluate_classifier(AlwaysHappy(), synthetic_faces, "val")
    report = evaluation.report
    assert report.n == 30 and report.accuracy == pytest.approx(10 / 30)
    assert report.recall.tolist() == [1.0, 0.0, 0.0] and report.support.tolist() == [10, 10, 10]
    assert evaluation.loss == pytest.approx((10 * -np.log(0.9) + 10 * -np.log(0.1) + 10 * -np.log(1e-12)) / 30)
    write_predictions_csv(evaluation, tmp_path / "p.csv")
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "path,true,predicted,happiness,sadness" and rows[-1].split(",")[1:3] == ["surprise", "happiness"]


@pytest.mark.parametrize("inside", ["report", "val/report", "."])
def test_a_report_folder_inside_the_data_is_refused_before_anything_is_written(synthetic_faces, inside):
    """Its PNGs would otherwise be read as one more class by the next train or evaluate on that folder."""
    from fer_edge.evaluation import evaluate_and_report

    before = sorted(p for p in synthetic_faces.rglob("*"))
    with pytest.raises(DatasetError, match="--out .* is inside the data folder .*: its files would be read as a class"):
        evaluate_and_report(None, synthetic_faces, "val", synthetic_faces / inside)
    assert sorted(p for p in synthetic_faces.rglob("*")) == before


def test_an_unwritable_report_folder_is_refused_before_the_evaluation(synthetic_faces, tmp_path, monkeypatch):
    from fer_edge.errors import OutputError
    from fer_edge.evaluation import evaluate_and_report

    monkeypatch.setattr("fer_edge.model_files.load_classifier", lambda *a, **k: pytest.fail("evaluated anyway"))
    (tmp_path / "reports").write_text("keep me")
    with pytest.raises(OutputError, match=r"cannot create the output folder .*reports/r: Not a directory"):
        evaluate_and_report(None, synthetic_faces, "val", tmp_path / "reports" / "r")
    assert (tmp_path / "reports").read_text() == "keep me"
