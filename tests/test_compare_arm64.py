"""firmware_scripts/compare_arm64.py: arm64 and native faces compared, mirror-unsure's threshold allowed for."""

from __future__ import annotations

import json

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def compare():
    return load_benchmark("compare_arm64", folder="firmware_scripts")


def face(top: float, label: str = "fear") -> dict:
    other = "sadness" if label == "fear" else "fear"
    return {"label": label, "box": [10, 10, 50, 50], "probabilities": {label: top, other: round(1 - top, 4)}}


def test_a_face_mirrored_on_one_side_only_is_counted_apart(compare):
    native, arm64 = [face(0.602)], [face(0.527)]  # just over 0.6 natively (one pass), mirrored on arm64
    row = compare.compare_faces(native, arm64, threshold=0.6)
    assert row["across_gate"] == 1 and row["max_prob_diff"] == 0.0
    assert row["max_across_gate_diff"] == pytest.approx(0.075)
    plain = compare.compare_faces(native, arm64)  # another TTA: no gate, the difference counts
    assert plain["across_gate"] == 0 and plain["max_prob_diff"] == pytest.approx(0.075)


@pytest.mark.parametrize(("a", "b"), [(0.61, 0.63), (0.55, 0.58), (0.59, 0.70)])
def test_faces_on_one_side_of_the_threshold_or_far_above_it_are_held_to_the_tolerance(compare, a, b):
    row = compare.compare_faces([face(a)], [face(b)], threshold=0.6)
    assert row["across_gate"] == 0 and row["max_prob_diff"] == pytest.approx(abs(a - b))


def test_a_label_change_across_the_threshold_is_still_a_label_change(compare):
    row = compare.compare_faces([face(0.62)], [face(0.55, "sadness")], threshold=0.6)
    assert row["across_gate"] == 1 and row["flips"][0]["arm64"] == "sadness"


def test_the_threshold_comes_from_the_models_info(compare, tmp_path):
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"tta": "mirror-unsure", "tta_threshold": 0.6}))
    assert compare.mirror_unsure_threshold(info) == 0.6
    info.write_text(json.dumps({"tta": "mirror", "tta_threshold": 0.7}))
    assert compare.mirror_unsure_threshold(info) is None
