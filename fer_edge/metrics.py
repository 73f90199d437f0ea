"""Classification metrics in plain NumPy: confusion matrix, per-class and macro precision/recall/F1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j] = images of true class i predicted as class j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@dataclass(frozen=True)
class ClassificationReport:
    """Standard metrics: precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2PR/(P+R).

    A class with no prediction (or no sample) gets 0 for the undefined ratio, as
    scikit-learn does with `zero_division=0`.
    """

    labels: tuple[str, ...]
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def n(self) -> int:
        """Number of images."""
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        """Fraction of images whose top-1 prediction is right."""
        return float(np.trace(self.confusion) / max(1, self.n))

    @property
    def macro_precision(self) -> float:
        """Unweighted mean of per-class precision."""
        return float(self.precision.mean())

    @property
    def macro_recall(self) -> float:
        """Unweighted mean of per-class recall."""
        return float(self.recall.mean())

    @property
    def macro_f1(self) -> float:
        """Unweighted mean of per-class F1."""
        return float(self.f1.mean())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with `n`, `accuracy`, macro scores, `per_class` and `confusion_matrix`."""
        per_class = {
            label: {
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "f1": float(self.f1[i]),
                "support": int(self.support[i]),
            }
            for i, label in enumerate(self.labels)
        }
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "labels": list(self.labels),
            "per_class": per_class,
            "confusion_matrix": self.confusion.tolist(),
        }


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]
) -> ClassificationReport:
    """Compute the report for integer labels `y_true` and predictions `y_pred`."""
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    true_positive = np.diag(matrix).astype(np.float64)
    precision = _safe_divide(true_positive, matrix.sum(axis=0))
    recall = _safe_divide(true_positive, matrix.sum(axis=1))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return ClassificationReport(tuple(labels), matrix, precision, recall, f1, matrix.sum(axis=1))
