"""benchmarks/train_fit.py: how closely a head fits vote shares, on hand-checked faces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def fit():
    return load_benchmark("train_fit").fit


def test_fit_scores_agreement_confidence_and_kl(fit):
    votes = np.array([[0.8, 0.2, 0.0], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    model = np.array([[0.5, 0.5, 0.0], [0.1, 0.6, 0.3], [0.2, 0.7, 0.1]])
    result = fit(model, votes)
    assert result["faces"] == 3
    assert result["majority_agreement"] == pytest.approx(2 / 3)  # face 2 is wrong; ties go to the first class
    assert result["mean_top_probability"] == pytest.approx((0.5 + 0.6 + 0.7) / 3)
    kl = [0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5),
          0.5 * math.log(0.5 / 0.6) + 0.5 * math.log(0.5 / 0.3),
          math.log(1.0 / 0.2)]
    assert result["kl_votes_to_model"] == pytest.approx(np.mean(kl), rel=1e-6)


def test_a_model_equal_to_the_votes_has_no_divergence(fit):
    votes = np.array([[0.6, 0.4], [0.1, 0.9]])
    result = fit(votes.copy(), votes)
    assert result["kl_votes_to_model"] == pytest.approx(0.0, abs=1e-9)
    assert result["majority_agreement"] == 1.0
