"""benchmarks/label_ceiling.py: the fewest label switches that meet FER2013 goals, on a hand-checked example."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def ceiling():
    return load_benchmark("label_ceiling").ceiling


def test_switches_cover_the_recall_and_the_accuracy_shortfall(ceiling):
    fer = np.array(["a", "a", "a", "b", "b", "c"], dtype=object)
    ferplus = np.array(["a", "b", "", "b", "a", "a"], dtype=object)  # "": a face FER+ lacks, answered for free
    # answering FER+: right on faces 0, 2 (free), 3 -> recalls a 2/3, b 1/2, c 0/1, accuracy 3/6
    result = ceiling(fer, ferplus, ["a", "b", "c"], 5, min_accuracy=0.0, min_recall=0.5)
    assert result["per_class"]["c"] == {"faces": 1, "recall_answering_ferplus": 0.0, "switches": 1}
    assert result["switches"] == 1 and result["ferplus_ceiling"] == pytest.approx(0.8)
    assert result["fer2013_answering_ferplus"] == pytest.approx(0.5)
    stricter = ceiling(fer, ferplus, ["a", "b", "c"], 5, min_accuracy=0.7, min_recall=0.5)
    assert stricter["switches"] == 2 and stricter["ferplus_ceiling"] == pytest.approx(0.6)  # ceil(4.2) - 3
    assert ceiling(fer, ferplus, ["a", "b", "c"], 5, 0.0, 0.0)["switches"] == 0
