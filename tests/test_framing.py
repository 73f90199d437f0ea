"""Framing calibration: where training faces sit around a detector's boxes, recorded in model metadata."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from conftest import FACE_PHOTO
from fer_edge.crops import CropGeometry, crop_face
from fer_edge.errors import DatasetError, FerEdgeError
from fer_edge.faces import DetectorOptions, FaceBox, create_detector
from fer_edge.framing import (calibrate, calibration_target, central_face, framed, measure_framing,
                              record_calibration)
from fer_edge.images import read_image
from fer_edge.metadata import load_metadata
from fer_edge.model_files import default_model_path


def test_framed_face_and_the_central_box():
    frame, side = framed(np.zeros((48, 48, 3), np.uint8))
    assert frame.shape == (384, 384, 3) and side == 192
    boxes = [FaceBox(0, 0, 50, 50), FaceBox(150, 160, 80, 80), FaceBox(300, 300, 60, 60)]
    assert central_face(boxes, frame) == boxes[1] and central_face([], frame) is None


def test_median_framing_golden_values():
    frame = np.zeros((384, 384, 3), np.uint8)  # the face square: (96, 96) to (288, 288), side 192
    found = [(frame, FaceBox(96 + 16, 96 + 8, 160, 160), 192.0),   # scale 1.2, centre 8 px above: shift +8/192
             (frame, FaceBox(96, 96, 192, 192), 192.0),             # scale 1.0, shift 0
             (frame, FaceBox(96 + 8, 96, 176, 176), 192.0),         # scale 1.0909, shift +8/192
             (frame, None, 192.0)]
    framing = measure_framing(found, "yunet")
    assert framing.detected == 3 and framing.faces == 4
    assert framing.geometry == CropGeometry(1.091, 0.042)
    assert framing.scale_quartiles[0] == pytest.approx(1.0454, abs=1e-3)
    with pytest.raises(DatasetError, match="found none"):
        measure_framing([(frame, None, 192.0)], "yunet")
    photo_like = [(frame, FaceBox(172, 172, 40, 40), 192.0)]  # a face small in its "crop": a photo, scale 4.8
    with pytest.raises(DatasetError, match=r"median framing is scale 4\.800.*calibrate on tight face crops"):
        measure_framing(photo_like, "yunet")


@pytest.fixture(scope="module")
def crops_of_known_framing(tmp_path_factory):
    """Crops of a real face framed 1.3x its YuNet box, centre 5% of the side below: a labelled folder."""
    photo = read_image(FACE_PHOTO)
    box = create_detector("yunet", DetectorOptions(detect_width=0)).detect(photo)[0]
    root = tmp_path_factory.mktemp("crops")
    (root / "happy").mkdir()
    for i, (dx, dy) in enumerate([(0, 0), (3, -2), (-2, 3)]):
        moved = FaceBox(box.x + dx, box.y + dy, box.width, box.height)
        crop = crop_face(photo, moved, 48, CropGeometry(1.3, 0.05))
        cv2.imwrite(str(root / "happy" / f"{i}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return root


def test_calibration_recovers_the_framing_of_the_crops(crops_of_known_framing):
    result = calibrate("default", crops_of_known_framing, ("yunet",))
    framing = result.framings[0]
    assert framing.detected == 3 and result.faces == 3
    # One face: YuNet's box on this crop is ~6% smaller than on the photo (over 145 real photos the
    # median scale comes back within 1% of the true 1.3, see README, "Crop framing").
    assert framing.geometry.scale == pytest.approx(1.3, abs=0.12)
    assert framing.geometry.shift_y == pytest.approx(0.05, abs=0.04)
    assert result.accuracy == 1.0 and result.tta == "none"  # happy either way: mirror does not pay here


def test_calibration_is_recorded_in_the_metadata_file(tmp_path):
    shipped = default_model_path()
    model = tmp_path / "m.tflite"
    shutil.copy(shipped, model)
    shutil.copy(shipped.with_name(shipped.stem + ".meta.json"), tmp_path / "m.meta.json")
    frame = np.zeros((384, 384, 3), np.uint8)
    framing = measure_framing([(frame, FaceBox(96, 96, 192, 192), 192.0)], "mtcnn")
    record_calibration(tmp_path / "m.meta.json", [framing], "mirror")
    metadata = load_metadata(tmp_path / "m.meta.json")
    assert metadata.crops["mtcnn"] == CropGeometry(1.0, 0.0) and metadata.tta == "mirror"
    record_calibration(tmp_path / "m.meta.json", [], None)  # nothing new: everything kept
    again = load_metadata(tmp_path / "m.meta.json")
    assert again == metadata and again.tta == "mirror" and again.crops == metadata.crops


@pytest.mark.workstation
def test_calibrate_command_prints_and_records(crops_of_known_framing, tmp_path):
    from click.testing import CliRunner

    from fer_edge.cli import cli

    shipped = default_model_path().with_name("default.keras")  # the float model the shipped ones came from
    model = tmp_path / "m.keras"
    shutil.copy(shipped, model)
    shutil.copy(shipped.with_name("default.meta.json"), tmp_path / "m.meta.json")
    result = CliRunner().invoke(cli, ["calibrate", str(model), str(crops_of_known_framing), "--write",
                                      "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    assert "yunet     3/3" in result.output and "-> tta none" in result.output
    recorded = load_metadata(tmp_path / "m.meta.json").crops["yunet"]
    assert recorded.scale == pytest.approx(1.3, abs=0.12)
    assert "(tta none)" in result.output and load_metadata(tmp_path / "m.meta.json").tta == "none"
    pinned = CliRunner().invoke(cli, ["calibrate", str(model), str(crops_of_known_framing), "--write", "--tta", "mirror"])
    assert pinned.exit_code == 0, pinned.output
    assert "-> tta none" in pinned.output and "(tta mirror)" in pinned.output
    assert load_metadata(tmp_path / "m.meta.json").tta == "mirror"
    gated = CliRunner().invoke(cli, ["calibrate", str(model), str(crops_of_known_framing), "--write",
                                     "--tta", "mirror-unsure", "--tta-threshold", "0.6"])
    assert gated.exit_code == 0 and "(tta mirror-unsure under 0.6)" in gated.output, gated.output
    assert (load_metadata(tmp_path / "m.meta.json").tta, load_metadata(tmp_path / "m.meta.json").tta_threshold) \
        == ("mirror-unsure", 0.6)
    bad = CliRunner().invoke(cli, ["calibrate", str(model), str(crops_of_known_framing), "--tta", "flip"])
    assert bad.exit_code == 2 and "'flip' is not one of" in bad.output
    for threshold_args in (["--tta-threshold", "0.6"], ["--tta", "mirror", "--tta-threshold", "0.6"],
                           ["--tta", "mirror-unsure", "--tta-threshold", "0"]):
        refused = CliRunner().invoke(cli, ["calibrate", str(model), str(crops_of_known_framing), *threshold_args])
        assert refused.exit_code == 2 and "--tta-threshold" in refused.output, refused.output
    missing = CliRunner().invoke(cli, ["calibrate", str(tmp_path / "none.tflite"), str(crops_of_known_framing)])
    assert missing.exit_code == 1 and "Error: model file not found" in missing.output


def test_calibrate_write_refuses_a_model_with_embedded_metadata_before_the_work(crops_of_known_framing, tmp_path,
                                                                                monkeypatch):
    from click.testing import CliRunner

    from fer_edge.cli import cli

    monkeypatch.setattr("fer_edge.framing.calibrate", lambda *a, **k: pytest.fail("calibrated anyway"))
    with pytest.raises(FerEdgeError, match="has its metadata embedded"):
        calibration_target("accurate")
    shipped = default_model_path()
    model = tmp_path / "m.tflite"
    shutil.copy(shipped, model)
    sidecar = tmp_path / "m.meta.json"
    shutil.copy(shipped.with_name(shipped.stem + ".meta.json"), sidecar)
    before = sidecar.read_bytes()
    for name in (str(model), "default"):
        result = CliRunner().invoke(cli, ["calibrate", name, str(crops_of_known_framing), "--write"])
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: a calibration is recorded in a .keras model's metadata, before "
                                        f"converting; {name} has its metadata embedded")
    assert sidecar.read_bytes() == before
