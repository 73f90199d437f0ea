"""benchmarks/fusion_gate.py: the confidence gate and its fusion sweep, on hand-made probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark
from fer_edge.train.heads import FusionGoal, HeadScores


@pytest.fixture(scope="module")
def fusion_gate():
    return load_benchmark("fusion_gate")


def test_the_gate_is_half_open_at_its_threshold_and_follows_the_highest_probability(fusion_gate):
    primary = np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05], [0.34, 0.33, 0.33]])
    gate = fusion_gate.confidence_gate(primary, threshold=0.5, sharpness=10.0)
    np.testing.assert_allclose(gate, [0.5, 1 / (1 + np.exp(-4.0)), 1 / (1 + np.exp(1.6))], rtol=1e-12)


def test_a_closed_gate_hands_the_face_to_the_aux_head(fusion_gate):
    primary = np.array([[0.9, 0.1, 0.0]] * 2)
    aux = np.array([[0.0, 1.0, 0.0]] * 2)
    predicted = fusion_gate.gated_predictions(primary, aux, np.eye(3), 0.3, np.zeros(3), np.array([1.0, 0.1]))
    np.testing.assert_array_equal(predicted, [0, 1])  # open: 0.63 > 0.07 + 0.3; closed: 0.063 < 0.007 + 0.3


def test_mean_probabilities_average_the_views_after_the_softmax(fusion_gate):
    views = ((np.array([[0.0, 0.0]]), np.array([[np.log(3.0), 0.0]])),
             (np.array([[np.log(3.0), 0.0]]), np.array([[0.0, 0.0]])))
    primary, aux = fusion_gate.mean_probabilities(HeadScores(views, np.array([0])))
    np.testing.assert_allclose(primary, [[0.625, 0.375]])
    np.testing.assert_allclose(aux, [[0.625, 0.375]])


def test_best_fusion_meets_the_aux_goal_with_the_oracle_gate_alone_or_with_a_raised_bias(fusion_gate):
    # six faces scored on both label sets (the heads agree and are right), two only on the aux labels,
    # where the primary head leans to class 0 and the aux head (rightly) to class 1
    shared = np.eye(2)[[0, 1, 0, 1, 0, 1]] * 0.8 + 0.1
    lean = np.array([[0.55, 0.45], [0.55, 0.45]])
    aux_only = np.array([[0.3, 0.7], [0.3, 0.7]])
    primary_faces = (shared, shared, np.ones(6), np.array([0, 1, 0, 1, 0, 1]))
    aux_labels = np.array([0, 1, 0, 1, 0, 1, 1, 1])
    p_aux, a_aux = np.vstack([shared, lean]), np.vstack([shared, aux_only])
    goal = FusionGoal(1.0, 1.0)
    oracle = fusion_gate.best_fusion(primary_faces, (p_aux, a_aux, np.array([1.0] * 6 + [0.0] * 2), aux_labels),
                                     np.eye(2), goal)
    # a closed gate at weight 0 leaves all-zero scores: one step of bias (0.02) hands the face to the aux head
    assert oracle == {"primary_accuracy": 1.0, "aux_accuracy": 1.0, "aux_weight": 0.0, "bias": [0.0, 0.02]}
    ungated = fusion_gate.best_fusion(primary_faces, (p_aux, a_aux, np.ones(8), aux_labels), np.eye(2), goal)
    # without the gate the aux head needs a say on class 1: at weight 0, a bias of 0.16 (0.45 + 0.16 x 0.7 > 0.55)
    assert ungated == {"primary_accuracy": 1.0, "aux_accuracy": 1.0, "aux_weight": 0.0, "bias": [0.0, 0.16]}
    sure_and_wrong = np.vstack([shared, [[1.0, 0.0], [1.0, 0.0]]])  # both heads certain of class 0 on the last two
    assert fusion_gate.best_fusion(primary_faces, (sure_and_wrong, sure_and_wrong, np.ones(8), aux_labels),
                                   np.eye(2), goal) is None  # no bias up to the limit reaches the goal: no fusion


def test_heads_alone_score_each_head_on_both_label_sets(fusion_gate):
    # three classes; the aux head knows only the first two (mapped onto classes 0 and 1)
    mapping = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    primary_logits, aux_logits = np.log(np.eye(3)[[0, 1, 2, 2]] + 0.01), np.log(np.eye(2)[[0, 1, 1, 1]] + 0.01)
    primary = HeadScores(((primary_logits, aux_logits),), np.array([0, 1, 2, 0]))
    aux = HeadScores(((primary_logits, aux_logits),), np.array([0, 1, 1, 0]))
    alone = fusion_gate.heads_alone(primary, aux, mapping)
    assert alone["primary_head"] == {"primary_accuracy": 0.75, "aux_accuracy": 0.5,
                                     "aux_recalls": {"0": 0.5, "1": 0.5}}
    assert alone["aux_head"] == {"primary_accuracy": 0.5, "aux_accuracy": 0.75, "aux_recalls": {"0": 0.5, "1": 1.0}}
