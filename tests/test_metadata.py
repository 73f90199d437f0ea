"""Model metadata: round trip, validation and atomic writes."""

from __future__ import annotations

import json

import pytest

from fer_edge.errors import ModelError, OutputError
from fer_edge.metadata import UNSURE_BELOW, ModelMetadata, load_metadata, save_metadata, sidecar_path
from fer_edge.preprocess import Preprocessing


def test_round_trip(tmp_path):
    metadata = ModelMetadata(("angry", "happy"), Preprocessing((48, 48), "grayscale"), "paper_cnn",
                             {"val_accuracy": 0.5})
    path = tmp_path / "m.meta.json"
    save_metadata(metadata, path)
    loaded = load_metadata(path)
    assert loaded == metadata and loaded.extra == {"val_accuracy": 0.5}
    assert json.loads(path.read_text())["labels"] == ["angry", "happy"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.meta.json"]  # no temporary file left


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    save_metadata(ModelMetadata(("a", "b")), tmp_path / "m.meta.json")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.meta.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_sidecar_name():
    assert sidecar_path("runs/a/model.keras").name == "model.meta.json"


@pytest.mark.parametrize("labels", [("one",), ("a", "a")])
def test_bad_labels(labels):
    with pytest.raises(ModelError):
        ModelMetadata(labels)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_metadata(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read"):
        load_metadata(tmp_path / "bad.json")
    (tmp_path / "partial.json").write_text('{"labels": ["a", "b"]}')
    with pytest.raises(ModelError, match="preprocessing"):
        load_metadata(tmp_path / "partial.json")


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.meta.json"
    save_metadata(ModelMetadata(("a", "b")), path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("fer_edge.files.os.replace", explode)
    with pytest.raises(OutputError, match=f"cannot write {path}: disk full"):  # a clean error naming the file
        save_metadata(ModelMetadata(("x", "y")), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.meta.json"]


def test_crop_geometry_and_tta_round_trip(tmp_path):
    from fer_edge.crops import CropGeometry

    crops = {"yunet": CropGeometry(1.05, 0.04), "mtcnn": CropGeometry(1.1, 0.0)}
    metadata = ModelMetadata(("a", "b"), crops=crops, tta="mirror")
    save_metadata(metadata, tmp_path / "m.meta.json")
    loaded = load_metadata(tmp_path / "m.meta.json")
    assert loaded.crops == crops and loaded.tta == "mirror"
    assert loaded.crop_geometry("yunet", 0.2) == CropGeometry(1.05, 0.04)
    assert loaded.crop_geometry("haar", 0.2) == CropGeometry(1.2, 0.0)  # not calibrated: the detector's margin
    old = ModelMetadata.from_dict({"labels": ["a", "b"], "preprocessing": Preprocessing().to_dict()})
    assert old.crops == {} and old.tta == "none"  # metadata written before crops and tta existed
    assert old.tta_threshold == UNSURE_BELOW == 0.7  # nor its threshold
    gated = ModelMetadata(("a", "b"), tta="mirror-unsure", tta_threshold=0.6)
    save_metadata(gated, tmp_path / "g.meta.json")
    assert load_metadata(tmp_path / "g.meta.json").tta_threshold == 0.6


@pytest.mark.parametrize("change", [{"tta": "rotate"}, {"crops": {"yunet": {"scale": 9}}},
                                    {"crops": {"yunet": {"shift_y": 0.1}}}, {"crops": ["yunet"]},
                                    {"tta_threshold": 0}, {"tta_threshold": 1.5}, {"tta_threshold": "0.6"},
                                    {"tta_threshold": True}, {"tta_threshold": None}])
def test_bad_crops_or_tta_are_model_errors(change):
    data = {"labels": ["a", "b"], "preprocessing": Preprocessing().to_dict(), **change}
    with pytest.raises(ModelError, match="metadata|test-time|tta_threshold"):
        ModelMetadata.from_dict(data)
