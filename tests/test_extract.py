"""extract-faces: crops, manifest, report, cache, resume after interruption, untouched source."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import fer_edge.extract as extract
from conftest import tree_snapshot, write_broken_files
from fer_edge.cli import cli
from fer_edge.errors import DatasetError
from fer_edge.extract import ExtractOptions, extract_faces, read_manifest
from fer_edge.synthetic import write_synthetic_dataset

NONE = ExtractOptions(detector="none", size=32)


@pytest.fixture()
def photos(tmp_path):
    root = write_synthetic_dataset(tmp_path / "photos", per_class=4, size=48, classes=("happy", "sad"))
    write_broken_files(root / "sad")
    return root


def statuses(dst):
    return sorted(r["status"] for r in read_manifest(dst / "manifest.jsonl"))


def test_crops_manifest_and_report(photos, tmp_path):
    before = tree_snapshot(photos)
    summary = extract_faces(photos, tmp_path / "crops", NONE)
    dst = tmp_path / "crops"
    assert (summary.photos, summary.faces_kept, summary.unreadable, summary.no_face) == (13, 8, 5, 0)
    crop = cv2.imread(str(dst / "happy" / "0000.png"))
    assert crop.shape == (32, 32, 3)
    record = next(r for r in read_manifest(dst / "manifest.jsonl") if r["status"] == "kept")
    assert set(record) >= {"source", "source_sha256", "box", "score", "landmarks", "detector", "crop"}
    assert record["box"] == [0.0, 0.0, 48.0, 48.0] and record["detector"] == "none"
    report = json.loads((dst / "report.json").read_text())
    assert report["per_class"]["sad"] == {"photos": 9, "faces_kept": 4, "no_face": 0, "unreadable": 5}
    assert len(report["unreadable"]) == 5
    assert tree_snapshot(photos) == before


def test_rerun_uses_the_cache(photos, tmp_path):
    extract_faces(photos, tmp_path / "crops", NONE)
    again = extract_faces(photos, tmp_path / "crops", NONE)
    assert again.photos == 0 and again.cached == 13
    assert len(read_manifest(tmp_path / "crops" / "manifest.jsonl")) == 13
    write_synthetic_dataset(photos, per_class=5, size=48, classes=("happy",), seed=9)  # one new, 4 changed
    third = extract_faces(photos, tmp_path / "crops", NONE)
    assert third.photos == 5


def test_photos_without_faces_are_dropped_and_listed(tmp_path):
    root = tmp_path / "photos" / "neutral"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / "noise.png"), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    summary = extract_faces(tmp_path / "photos", tmp_path / "crops", ExtractOptions(detector="yunet"))
    assert summary.no_face == 1 and summary.faces_kept == 0
    assert not list((tmp_path / "crops" / "neutral").iterdir())
    report = json.loads((tmp_path / "crops" / "report.json").read_text())
    assert report["no_face"] == [str(root / "noise.png")]


def test_interrupted_run_resumes_without_duplicates(photos, tmp_path, monkeypatch):
    dst = tmp_path / "crops"
    calls = {"n": 0}
    original = extract._process

    def flaky(task):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(task)

    monkeypatch.setattr(extract, "_process", flaky)
    with pytest.raises(KeyboardInterrupt):
        extract_faces(photos, dst, NONE)
    assert len(read_manifest(dst / "manifest.jsonl")) == 5
    monkeypatch.setattr(extract, "_process", original)
    with (dst / "manifest.jsonl").open("a") as handle:
        handle.write('{"torn": ')  # a line cut by a kill
    summary = extract_faces(photos, dst, NONE)
    assert summary.cached == 5 and summary.photos == 8
    assert statuses(dst).count("kept") == 8
    assert not [p for p in dst.rglob("*") if p.name.endswith(".tmp")]


def test_output_inside_source_is_refused(photos):
    with pytest.raises(DatasetError, match="must not be inside"):
        extract_faces(photos, photos / "crops", NONE)


def test_worker_processes_give_the_same_crops(photos, tmp_path):
    extract_faces(photos, tmp_path / "one", NONE)
    extract_faces(photos, tmp_path / "two", ExtractOptions(detector="none", size=32, workers=2))
    for name in ("happy", "sad"):
        for crop in (tmp_path / "one" / name).iterdir():
            assert crop.read_bytes() == (tmp_path / "two" / name / crop.name).read_bytes()


def test_all_faces_suffix(photos, tmp_path):
    extract_faces(photos, tmp_path / "crops", ExtractOptions(detector="none", size=32, all_faces=True))
    assert (tmp_path / "crops" / "happy" / "0000_0.png").exists()


@pytest.mark.workstation
def test_cli_extract_then_train_consumes_the_crops(photos, tmp_path):
    from helpers import TINY

    shutil.rmtree(photos / "sad")
    write_synthetic_dataset(photos, per_class=8, size=48, classes=("happy", "sad"), seed=3)
    runner = CliRunner()
    result = runner.invoke(cli, ["extract-faces", str(photos), str(tmp_path / "crops"), "--detector", "none",
                                 "--size", "32"])
    assert result.exit_code == 0, result.output
    assert "faces kept 16" in result.output
    result = runner.invoke(cli, ["train", str(tmp_path / "crops"), "--out", str(tmp_path / "run"), "--arch", TINY,
                                 "--epochs", "1", "--image-size", "32", "--val-fraction", "0.25"])
    assert result.exit_code == 0, result.output


def test_cli_rejects_bad_thresholds(photos, tmp_path):
    result = CliRunner().invoke(cli, ["extract-faces", str(photos), str(tmp_path / "c"), "--score-threshold", "2"])
    assert result.exit_code == 2 and "score-threshold" in result.output


def test_manifest_lines_that_are_not_records_are_skipped_and_counted(photos, tmp_path, caplog):
    dst = tmp_path / "crops"
    extract_faces(photos, dst, NONE)
    with (dst / "manifest.jsonl").open("a") as handle:
        handle.write('42\n{"source": "x"}\n[1, 2]\n')
    summary = extract_faces(photos, dst, NONE)
    assert summary.cached == 13 and summary.photos == 0  # 8 faces kept and 5 unreadable files, all recorded
    assert "ignoring 3 damaged line(s)" in caplog.text and len(read_manifest(dst / "manifest.jsonl")) == 13
