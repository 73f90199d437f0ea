"""benchmarks/fusion_table.py: every subset of two-head models fused under each goal, on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark
from fer_edge.train.heads import HeadScores


@pytest.fixture(scope="module")
def fusion_table():
    return load_benchmark("fusion_table")


def one_hot_logits(labels: np.ndarray, classes: int, scale: float = 5.0) -> np.ndarray:
    return np.eye(classes)[labels] * scale


def scores(labels: np.ndarray, right: bool) -> HeadScores:
    """One model, two views; both heads answer `labels` (right) or the next class (wrong)."""
    answer = labels if right else (labels + 1) % 2
    view = (one_hot_logits(answer, 2), one_hot_logits(answer, 2))
    return HeadScores((view, (view[0] * 0.5, view[1] * 0.5)), labels)


def test_members_scores_takes_each_members_first_views_member_major(fusion_table):
    labels = np.array([0, 1, 1, 0])
    good, bad = scores(labels, True), scores(labels, False)
    both = fusion_table.members_scores({"good": good, "bad": bad}, ("good", "bad"), views=1)
    assert both.members == 2 and len(both.views) == 2
    assert both.views[0] is good.views[0] and both.views[1] is bad.views[0]
    mirrored = fusion_table.members_scores({"good": good, "bad": bad}, ("bad",), views=2)
    assert mirrored.views == bad.views and mirrored.members == 1


def test_table_has_a_row_per_subset_tta_and_goal_with_real_accuracies(fusion_table):
    labels = np.array([0, 1, 1, 0, 1, 0])
    primary = {"good": scores(labels, True), "bad": scores(labels, False)}
    aux = {"good": scores(labels, True), "bad": scores(labels, False)}
    rows = fusion_table.table(primary, aux, np.eye(2))
    assert len(rows) == 3 * 2 * len(fusion_table.GOALS) * 2  # {good}, {bad}, {good, bad}; two spaces
    good = [row for row in rows if row["members"] == ["good"]]
    assert all(row["primary_accuracy"] == 1.0 and row["aux_accuracy"] == 1.0 and row["meets_goal"] for row in good)
    bad = [row for row in rows if row["members"] == ["bad"]]
    assert all(row["primary_accuracy"] == 0.0 and not row["meets_goal"] for row in bad)
    assert {row["tta"] for row in rows} == {"none", "mirror"}
    assert {row["space"] for row in rows} == {"logit", "probability"}
    assert all(row["fusion"]["space"] == row["space"] for row in rows)


def test_per_member_splits_an_ensembles_views_back_into_its_members(fusion_table):
    labels = np.array([0, 1, 1, 0])
    good, bad = scores(labels, True), scores(labels, False)
    ensemble = HeadScores(good.views + bad.views, labels, members=2)
    split = fusion_table.per_member(ensemble, ["good", "bad"])
    assert list(split) == ["good", "bad"]
    assert split["good"].views == good.views and split["bad"].views == bad.views
    assert split["bad"].members == 1 and split["bad"].labels is labels


def test_table_takes_its_goals(fusion_table):
    labels = np.array([0, 1, 1, 0])
    primary = {"good": scores(labels, True)}
    goal = fusion_table.parse_goal("0.64,0.335")
    rows = fusion_table.table(primary, dict(primary), np.eye(2), (goal,))
    assert len(rows) == 2 * 2 and {row["goal"]["aux_min_accuracy"] for row in rows} == {0.64}
    assert {row["goal"]["aux_min_recall"] for row in rows} == {0.335}


@pytest.mark.parametrize("text", ["0.64", "0.64,0.3,1", "high,low", "1.5,0.3", "0.64,-0.1"])
def test_parse_goal_refuses_what_is_not_two_fractions(fusion_table, text):
    with pytest.raises(ValueError):
        fusion_table.parse_goal(text)
