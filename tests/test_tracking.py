"""Smoothing tracker: track ids follow overlapping boxes, probabilities are averaged."""

from __future__ import annotations

import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox
from fer_edge.recognizer import FaceResult
from fer_edge.results import ClassProbabilities
from fer_edge.tracking import SmoothingTracker


def face(probabilities, box=FaceBox(0, 0, 10, 10)):
    return FaceResult(box, ClassProbabilities(("a", "b"), probabilities))


def test_smoothing_tracks_and_averages():
    tracker = SmoothingTracker(window=2)
    first = tracker.update([face((1.0, 0.0))])
    second = tracker.update([face((0.0, 1.0), FaceBox(1, 0, 10, 10)), face((0.5, 0.5), FaceBox(50, 50, 10, 10))])
    assert first[0][0] == 0 and second[0][0] == 0 and second[1][0] == 1
    assert second[0][1].expression.probabilities == (0.5, 0.5)
    assert second[1][1].expression.probabilities == (0.5, 0.5)


@pytest.mark.parametrize("options", [dict(window=0), dict(window=-1), dict(max_missed=-1), dict(min_iou=1.5),
                                     dict(max_missed_s=-1.0), dict(max_missed_s=float("nan")),
                                     dict(max_missed_s=float("inf"))])
def test_bad_tracker_settings_are_clear_errors(options):
    with pytest.raises(FerEdgeError, match="must be"):
        SmoothingTracker(**options)
