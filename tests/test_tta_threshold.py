"""benchmarks/tta_threshold.py: mirror-unsure's sweep and the threshold it chooses, on hand-made probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def tta_threshold():
    return load_benchmark("tta_threshold")


def faces():
    """Four faces of classes 0, 0, 1, 1: sure and right; unsure (0.55) and wrong, put right by its mirror image;
    sure and right; fairly sure (0.65) and right, and still right averaged with its wrong mirror image."""
    face = np.array([[0.9, 0.1], [0.45, 0.55], [0.2, 0.8], [0.35, 0.65]])
    mirror = np.array([[0.9, 0.1], [0.95, 0.05], [0.2, 0.8], [0.6, 0.4]])
    return face, mirror, np.array([0, 0, 1, 1])


def test_the_sweep_mirrors_only_the_faces_under_each_threshold(tta_threshold):
    rows = tta_threshold.sweep(*faces())
    assert rows["none"] == {"accuracy": 0.75, "lowest_recall": 0.5, "mirrored": 0.0}
    assert rows["mirror"] == {"accuracy": 1.0, "lowest_recall": 1.0, "mirrored": 1.0}
    assert rows["0.55"] == {"accuracy": 0.75, "lowest_recall": 0.5, "mirrored": 0.0}  # 0.55 is not under 0.55
    assert rows["0.60"] == {"accuracy": 1.0, "lowest_recall": 1.0, "mirrored": 0.25}  # face 2 mirrored
    assert rows["0.70"] == {"accuracy": 1.0, "lowest_recall": 1.0, "mirrored": 0.5}  # and face 4
    assert list(rows)[2:] == [f"{t:.2f}" for t in tta_threshold.THRESHOLDS]


def test_the_lowest_threshold_that_keeps_mirrors_figures_is_chosen(tta_threshold):
    rows = tta_threshold.sweep(*faces())
    assert tta_threshold.choose(rows, rows) == "0.60"
    worse = {**rows, "0.60": {**rows["0.60"], "lowest_recall": 0.9}}
    assert tta_threshold.choose(rows, worse) == "0.65"
    never = {name: {**row, "accuracy": 0.5} if name != "mirror" else row for name, row in rows.items()}
    assert tta_threshold.choose(rows, never) is None


def test_held_out_chooses_on_one_half_and_scores_the_other(tta_threshold):
    face, mirror, truth = (np.tile(array, (5, 1)) if array.ndim == 2 else np.tile(array, 5) for array in faces())
    rows = tta_threshold.held_out({"ferplus_valid": (face, mirror, truth), "fer2013_val": (face, mirror, truth)}, 2)
    assert [(row["seed"], row["fit_half"]) for row in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for row in rows:  # mirroring every face puts every half right; the threshold chosen on the other half keeps it
        assert row["chosen"] in [f"{t:.2f}" for t in tta_threshold.THRESHOLDS]
        assert row["fer2013_val"]["mirror"]["accuracy"] == row["ferplus_valid"]["mirror"]["accuracy"] == 1.0
        assert row["fer2013_val"]["chosen"]["accuracy"] == 1.0 and row["fer2013_val"]["chosen"]["mirrored"] <= 0.5
