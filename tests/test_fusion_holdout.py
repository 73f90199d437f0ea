"""benchmarks/fusion_holdout.py: fusions chosen on one half of the faces and scored on the other, on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark
from fer_edge.train.heads import HeadScores


@pytest.fixture(scope="module")
def fusion_holdout():
    return load_benchmark("fusion_holdout")


def right_heads(labels: np.ndarray, classes: int = 3) -> HeadScores:
    """One model, one view, both heads confidently right."""
    logits = np.eye(classes)[labels] * 4.0
    return HeadScores(((logits, logits),), labels)


def test_subset_keeps_the_scores_and_labels_of_the_chosen_faces(fusion_holdout):
    labels = np.array([0, 1, 2, 1])
    scores = right_heads(labels)
    part = fusion_holdout.subset(scores, np.array([3, 0]))
    np.testing.assert_array_equal(part.labels, [1, 0])
    np.testing.assert_array_equal(part.views[0][0], scores.views[0][0][[3, 0]])


def test_holdout_fits_each_way_on_one_half_and_scores_the_other(fusion_holdout):
    labels = np.tile([0, 1, 2], 10)
    scores = right_heads(labels)
    goal = fusion_holdout.FusionGoal(0.9, 0.9)
    rows = fusion_holdout.holdout(scores, scores, np.eye(3), goal, seed=1, ways=["logit", "probability"])
    assert [(row["fit_half"], row["way"]) for row in rows] == [(0, "logit"), (0, "probability"),
                                                              (1, "logit"), (1, "probability")]
    for row in rows:  # heads right on every face: every held-out half is scored right
        assert row["held_out"] == {"primary_accuracy": 1.0, "aux_accuracy": 1.0, "aux_min_recall": 1.0}
        assert row["fusion"]["space"] == fusion_holdout.WAYS[row["way"]][0]


def test_holdout_scores_a_wrong_aux_head_as_wrong(fusion_holdout):
    labels = np.tile([0, 1, 2], 10)
    right = np.eye(3)[labels] * 4.0
    wrong = np.eye(3)[(labels + 1) % 3] * 4.0
    primary = HeadScores(((right, wrong),), labels)
    rows = fusion_holdout.holdout(primary, primary, np.eye(3), fusion_holdout.FusionGoal(), seed=2, ways=["probability"])
    assert all(row["held_out"]["primary_accuracy"] == 1.0 and row["fusion"]["aux_weight"] < 0.5 for row in rows)


def test_summarize_averages_each_ways_held_out_scores(fusion_holdout):
    rows = [{"way": "logit", "held_out": {"primary_accuracy": 0.7, "aux_accuracy": 0.6, "aux_min_recall": 0.2}},
            {"way": "logit", "held_out": {"primary_accuracy": 0.8, "aux_accuracy": 0.64, "aux_min_recall": 0.3}},
            {"way": "probability", "held_out": {"primary_accuracy": 0.9, "aux_accuracy": 0.5, "aux_min_recall": 0.1}}]
    summary = fusion_holdout.summarize(rows, ["logit", "probability"])
    assert summary["logit"] == pytest.approx({"primary_accuracy": 0.75, "aux_accuracy": 0.62, "aux_min_recall": 0.25})
    assert summary["probability"]["primary_accuracy"] == pytest.approx(0.9)


def test_tempered_divides_each_heads_logits_by_its_temperature(fusion_holdout):
    primary, aux = np.array([[2.0, -1.0]]), np.array([[0.5, 1.5]])
    scores = fusion_holdout.tempered(HeadScores(((primary, aux),), np.array([0])), (0.5, 2.0))
    np.testing.assert_allclose(scores.views[0][0], [[4.0, -2.0]])
    np.testing.assert_allclose(scores.views[0][1], [[0.25, 0.75]])
    np.testing.assert_array_equal(scores.labels, [0])


def test_temperature_way_chooses_a_pair_of_the_grid_and_plain_ways_keep_one(fusion_holdout):
    labels = np.tile([0, 1, 2], 10)
    right = np.eye(3)[labels] * 4.0
    wrong = np.eye(3)[(labels + 1) % 3] * 0.5  # a weak wrong aux head: sharpening it must not win
    primary = HeadScores(((right, wrong),), labels)
    aux = HeadScores(((right, right),), labels)
    goal = fusion_holdout.FusionGoal(0.9, 0.9)
    fusion, pair, row = fusion_holdout.choose(primary, aux, np.eye(3), goal, "probability_temperature")
    assert pair[0] in fusion_holdout.TEMPERATURES and pair[1] in fusion_holdout.TEMPERATURES
    assert row["meets_goal"] and row["primary_accuracy"] == 1.0
    assert fusion_holdout.choose(primary, aux, np.eye(3), goal, "probability")[1] == (1.0, 1.0)
    rows = fusion_holdout.holdout(primary, aux, np.eye(3), goal, seed=3, ways=["probability_temperature"])
    assert all(row["held_out"]["primary_accuracy"] == 1.0 and len(row["temperatures"]) == 2 for row in rows)


def test_parse_args_reads_ways_and_one_tta_per_member(fusion_holdout):
    args = fusion_holdout.parse_args(["a.keras", "b.keras", "--tta", "none", "--ways", "logit,probability"])
    assert (args.tta, args.ways, args.heads[1].name) == (("none", "none"), ["logit", "probability"], "b.keras")
    assert fusion_holdout.parse_args(["a.keras"]).tta == ("mirror",)
    assert fusion_holdout.parse_args(["a.keras", "b.keras", "--tta", "none,mirror"]).tta == ("none", "mirror")
    assert fusion_holdout.parse_args(["a.keras", "b.keras", "--tta", "every"]).tta == "every"


def two_mirrored_members(labels: np.ndarray) -> HeadScores:
    """Two members, two views each (the face, its mirror): member 0 is a little right on its own view and very
    wrong on the mirror image, member 1 says nothing (equal logits) on either."""
    right, wrong, nothing = np.eye(3)[labels], np.eye(3)[(labels + 1) % 3] * 8.0, np.zeros((len(labels), 3))
    return HeadScores(((right, right), (wrong, wrong), (nothing, nothing), (nothing, nothing)), labels, 2)


def test_with_member_tta_repeats_the_own_view_of_an_unmirrored_member(fusion_holdout):
    scores = two_mirrored_members(np.array([0, 1, 2]))
    masked = fusion_holdout.with_member_tta(scores, ("none", "mirror"))
    assert masked.members == 2 and len(masked.views) == 4
    assert masked.views[1] is scores.views[0] and masked.views[3] is scores.views[3]  # member 0's mirror view gone
    assert fusion_holdout.with_member_tta(scores, ("mirror", "mirror")).views == scores.views


def test_every_member_tta_scores_each_combination_and_a_wrong_mirror_view_costs(fusion_holdout):
    labels = np.tile([0, 1, 2], 10)
    scores = two_mirrored_members(labels)
    masks = fusion_holdout.every_member_tta(scores, scores, np.eye(3), fusion_holdout.FusionGoal(), seeds=1)
    assert list(masks) == ["none,none", "none,mirror", "mirror,none", "mirror,mirror"]
    for name, accuracy in {"none,none": 1.0, "none,mirror": 1.0, "mirror,none": 0.0, "mirror,mirror": 0.0}.items():
        assert masks[name]["same_faces"]["primary_accuracy"] == accuracy, name
        assert masks[name]["held_out"]["primary_accuracy"] == accuracy, name
    assert len(masks["none,none"]["runs"]) == 2  # one seed, each half fitted once and scored on the other


@pytest.mark.parametrize("argv", [["a.keras", "--tta", "flip"], ["a.keras", "--ways", "logit,median"], [],
                                  ["a.keras", "b.keras", "--tta", "none,mirror,none"], ["a.keras", "--tta", "none,flip"]])
def test_parse_args_refuses_unknown_tta_ways_and_no_heads(fusion_holdout, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fusion_holdout.parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_trade_biases_raises_the_class_that_costs_the_primary_labels_nothing(fusion_holdout):
    """Class 2's aux head agrees with both label sets there; class 1's would cost primary accuracy: only 2 rises."""
    labels = np.array([0, 1, 2, 2, 0, 1])
    primary_logits = np.eye(3)[[0, 1, 0, 0, 0, 1]] * 3.0
    primary_logits[2:4] = [0.25, 0.0, 0.1]                # narrowly wrong on the two class-2 faces
    aux_logits = np.eye(3)[[0, 1, 2, 2, 1, 1]] * 3.0       # right on class 2, wrong on face 4 (calls it 1)
    primary = HeadScores(((primary_logits, aux_logits),), labels)
    aux = HeadScores(((primary_logits, aux_logits),), labels)
    start = fusion_holdout.Fusion(0.0, (0.0, 0.0, 0.0), space="probability")
    goal = fusion_holdout.FusionGoal(0.99, 0.0)
    fusion, scores = fusion_holdout.trade_biases(primary, aux, np.eye(3), goal, start)
    assert fusion.bias[0] == fusion.bias[1] == 0.0 and fusion.bias[2] > 0.0
    assert fusion.bias[2] == pytest.approx(0.08)  # the smallest raise that flips them: 0.04 flips neither
    assert scores["aux_accuracy"] == 1.0 and scores["primary_accuracy"] == 1.0
