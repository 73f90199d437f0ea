"""Evaluation report: metrics JSON, per-image probabilities CSV, confusion matrix and curves as PNG."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from train.evaluation import evaluate_keras, write_predictions_csv
from train.keras_io import load_keras_model
from train.plots import plot_confusion, plot_history


@dataclass(frozen=True)
class WrittenReport:
    """Metrics and the files written for them."""

    metrics: dict
    files: dict[str, Path]


def evaluate_and_report(model_path: str | Path, data: str | Path, split: str | None,
                        out_dir: str | Path) -> WrittenReport:
    """Evaluate a `.keras` model on `data` and write the report files into `out_dir`.

    Training curves are drawn when the model's run folder has a `history.json`.
    """
    model_path, out_dir = Path(model_path), Path(out_dir)
    model, metadata = load_keras_model(model_path)
    evaluation = evaluate_keras(model, metadata, data, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {**evaluation.to_dict(), "model": str(model_path), "data": str(data)}
    files = {"metrics": out_dir / "metrics.json", "predictions": out_dir / "predictions.csv"}
    files["metrics"].write_text(json.dumps(metrics, indent=2) + "\n")
    write_predictions_csv(evaluation, files["predictions"])
    files["confusion_matrix"] = plot_confusion(evaluation.report, out_dir / "confusion_matrix.png")
    history = model_path.parent / "history.json"
    if history.exists():
        files["training_curves"] = plot_history(json.loads(history.read_text()), out_dir / "training_curves.png")
    return WrittenReport(metrics, files)
