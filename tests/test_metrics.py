"""Metrics follow the standard formulas: cross-checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from fer_edge.metrics import classification_report


def test_matches_scikit_learn_on_random_predictions():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 5, 500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, 5, 500))
    y_pred[y_pred == 4] = 3  # class 4 is never predicted: precision 0 by convention
    report = classification_report(y_true, y_pred, tuple("abcde"))
    labels = list(range(5))
    np.testing.assert_allclose(report.precision, sk.precision_score(y_true, y_pred, labels=labels, average=None, zero_division=0))
    np.testing.assert_allclose(report.recall, sk.recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0))
    np.testing.assert_allclose(report.f1, sk.f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0))
    assert report.macro_f1 == pytest.approx(sk.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert report.accuracy == pytest.approx(sk.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(report.confusion, sk.confusion_matrix(y_true, y_pred, labels=labels))


def test_hand_computed_example():
    report = classification_report(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), ("x", "y"))
    assert report.precision.tolist() == [1.0, 0.5]
    assert report.recall.tolist() == [pytest.approx(2 / 3), 1.0]
    assert report.f1[0] == pytest.approx(0.8)  # 2PR/(P+R), not the paper's misprint
    data = report.to_dict()
    assert data["n"] == 4 and data["confusion_matrix"] == [[2, 1], [0, 1]]
    assert data["per_class"]["y"]["support"] == 1
