"""fer_edge/results.py: class probabilities rank their labels and refuse mismatched lengths."""

from __future__ import annotations

import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.results import ClassProbabilities


def test_probabilities_rank_their_labels():
    result = ClassProbabilities(("anger", "happiness", "neutral"), (0.2, 0.7, 0.1))
    assert result.label == "happiness" and result.confidence == pytest.approx(0.7)
    assert [label for label, _ in result.ranked()] == ["happiness", "anger", "neutral"]


@pytest.mark.parametrize("labels, probabilities", [(("a", "b"), (0.5,)), (("a",), (0.5, 0.5)), ((), ())])
def test_one_probability_per_label(labels, probabilities):
    with pytest.raises(FerEdgeError, match="one probability per label"):
        ClassProbabilities(labels, probabilities)
