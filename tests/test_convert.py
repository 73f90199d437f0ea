"""Keras -> TFLite in every precision, loaded by the TensorFlow-free runtime, with verification bars."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.convert.calibration import calibration_pixels
from fer_edge.convert.tflite import QUANTIZATIONS, convert_model
from fer_edge.convert.verify import verify
from fer_edge.cli import cli
from fer_edge.dataset import load_labeled_folder
from fer_edge.errors import DatasetError, FerEdgeError, ModelError, OutputError
from fer_edge.interpreter import TFLiteClassifier, interpreter_module
from fer_edge.preprocess import Preprocessing
from fer_edge.tflite_metadata import read_embedded_json
from conftest import CONVERT_CLASSES as CLASSES

def test_every_precision_converts_with_embedded_metadata(converted):
    assert set(converted) == set(QUANTIZATIONS)
    for quant, result in converted.items():
        embedded = read_embedded_json(result.path.read_bytes())
        assert embedded["labels"] == sorted(CLASSES)
        assert embedded["preprocessing"]["input_size"] == [32, 32]
        assert embedded["extra"]["quantization"] == quant
    sizes = {q: r.size_bytes for q, r in converted.items()}
    assert sizes["fp16"] < sizes["fp32"] and sizes["int8"] < sizes["fp16"]


def test_int8_is_full_integer_with_its_own_scale_and_zero_point(converted):
    classifier = TFLiteClassifier(converted["int8"].path)
    assert classifier.input.dtype == np.int8 and classifier.output.dtype == np.int8
    io = classifier.metadata.extra["io"]
    assert io["input"]["scale"] == pytest.approx(classifier.input.scale)
    assert io["input"]["zero_point"] == classifier.input.zero_point
    assert classifier.metadata.extra["calibration"]["samples"] == 120
    assert classifier.input.scale == pytest.approx(1 / 255, rel=0.01)  # inputs span [0, 1]


def test_verification_bars(trained, converted):
    model, data, _ = trained
    results = {q: verify(model, r.path, data, split="val") for q, r in converted.items()}
    assert results["fp32"].n == 400
    assert results["fp32"].agreement == 1.0 and results["fp32"].max_abs_probability_diff < 1e-4
    assert results["fp16"].agreement >= 0.995
    assert results["int8"].agreement >= 0.98
    assert abs(results["int8"].tflite_accuracy - results["int8"].keras_accuracy) <= 0.015


def _weight_scale_counts(path) -> list[int]:
    """Number of scales on each int8 constant tensor (the weights) of a .tflite file."""
    interpreter = interpreter_module().Interpreter(model_path=str(path))  # not allocated: only constants have data
    counts = []
    for detail in interpreter.get_tensor_details():
        if detail["dtype"] != np.int8:
            continue
        try:
            interpreter.get_tensor(detail["index"])
        except ValueError:  # an activation
            continue
        counts.append(detail["quantization_parameters"]["scales"].size)
    return counts


def test_per_tensor_int8_is_smaller_and_still_agrees(trained, converted, tmp_path):
    model, data, _ = trained
    per_tensor = convert_model(model, tmp_path / "pt.tflite", "int8", data, samples=120, per_tensor=True)
    assert per_tensor.metadata.extra["weight_scales"] == "per-tensor"
    assert converted["int8"].metadata.extra["weight_scales"] == "per-channel"
    assert max(_weight_scale_counts(converted["int8"].path)) > 1
    assert set(_weight_scale_counts(per_tensor.path)) == {1}
    assert per_tensor.size_bytes < converted["int8"].size_bytes
    result = verify(model, per_tensor.path, data, split="val")
    assert result.agreement >= 0.95


def test_cli_per_tensor_flag(trained, tmp_path):
    model, data, _ = trained
    result = CliRunner().invoke(cli, ["convert", str(model), "--quant", "int8", "--calibration", str(data),
                                      "--samples", "120", "--per-tensor", "--out", str(tmp_path / "pt.tflite")])
    assert result.exit_code == 0, result.output
    assert set(_weight_scale_counts(tmp_path / "pt.tflite")) == {1}
    assert TFLiteClassifier(tmp_path / "pt.tflite").metadata.extra["weight_scales"] == "per-tensor"
    result = CliRunner().invoke(cli, ["convert", str(model), "--quant", "fp16", "--per-tensor",
                                      "--out", str(tmp_path / "f16.tflite")])
    assert result.exit_code == 1 and "Error: --per-tensor applies to int8 only, not fp16" in result.output
    assert not (tmp_path / "f16.tflite").exists()


def test_tflite_matches_keras_on_a_batch_and_one_by_one(trained, converted):
    model, data, _ = trained
    _, split, _ = load_labeled_folder(data / "val", Preprocessing((32, 32)))
    classifier = TFLiteClassifier(converted["fp32"].path, threads=2)
    batched = classifier.predict_pixels(split.pixels[:100])
    single = np.concatenate([classifier.predict_pixels(split.pixels[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(batched[:5], single, atol=1e-6)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_conversion_is_deterministic_and_quiet(trained, converted, tmp_path, capfd):
    model, data, _ = trained
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the converter's input-statistics warning would raise here
        again = convert_model(model, tmp_path / "again.tflite", "int8", data, samples=120)
    assert again.path.read_bytes() == converted["int8"].path.read_bytes()
    out, err = capfd.readouterr()  # what native code wrote to file descriptors 1 and 2 too
    assert "fully_quantize" not in out + err and "Statistics for quantized inputs" not in err


def test_int8_without_calibration_data_is_an_error(trained, tmp_path):
    model, _, _ = trained
    with pytest.raises(FerEdgeError, match="--calibration"):
        convert_model(model, tmp_path / "x.tflite", "int8")
    assert not list(tmp_path.iterdir())


def test_empty_calibration_folder(trained, tmp_path):
    model, _, _ = trained
    (tmp_path / "cal" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetError):
        convert_model(model, tmp_path / "x.tflite", "int8", tmp_path / "cal")
    assert not (tmp_path / "x.tflite").exists()


def test_calibration_is_stratified_and_seeded(trained):
    _, data, _ = trained
    first = calibration_pixels(data, Preprocessing((32, 32)), samples=40, seed=1)
    assert len(first) == 40
    np.testing.assert_array_equal(first, calibration_pixels(data, Preprocessing((32, 32)), samples=40, seed=1))


def test_unreadable_model_and_write_failure(trained, tmp_path, monkeypatch):
    model, _, _ = trained
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"junk")
    (tmp_path / "bad.meta.json").write_text(model.with_name("model.meta.json").read_text())
    with pytest.raises(ModelError, match="bad.keras is not a Keras model"):
        convert_model(bad, tmp_path / "x.tflite", "fp32")
    target = tmp_path / "out.tflite"
    target.write_bytes(b"previous model")
    monkeypatch.setattr("fer_edge.files.os.replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space")))
    with pytest.raises(FerEdgeError, match="cannot write"):
        convert_model(model, target, "fp32")
    assert target.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.keras", "bad.meta.json", "out.tflite"]


def test_cli_convert_with_verification_and_verify_json(trained, tmp_path):
    model, data, _ = trained
    runner = CliRunner()
    result = runner.invoke(cli, ["convert", str(model), "--quant", "fp16", "--out", str(tmp_path / "m.tflite"),
                                 "--verify-data", str(data / "val")])
    assert result.exit_code == 0, result.output
    assert "fp16: " in result.output and "agreement" in result.output
    embedded = read_embedded_json((tmp_path / "m.tflite").read_bytes())["extra"]["verification"]
    assert embedded["agreement"] >= 0.995 and embedded["n"] == 400
    assert TFLiteClassifier(tmp_path / "m.tflite").metadata.extra["verification"] == embedded
    result = runner.invoke(cli, ["verify", str(model), str(tmp_path / "m.tflite"), str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["agreement"] >= 0.995


@pytest.mark.parametrize("change", ["labels", "preprocessing"])
def test_verify_refuses_a_tflite_model_converted_from_another_model(trained, converted, tmp_path, change):
    model, data, _ = trained
    other = tmp_path / "other.keras"
    other.write_bytes(model.read_bytes())
    meta = json.loads(model.with_name("model.meta.json").read_text())
    if change == "labels":
        meta["labels"] = [f"x{index}" for index in range(len(meta["labels"]))]
    else:
        meta["preprocessing"]["scale"] = 2 / 255
    (tmp_path / "other.meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=rf"fp32\.tflite is not a conversion of .*other\.keras: its {change} "):
        verify(other, converted["fp32"].path, data, split="val")
    result = CliRunner().invoke(cli, ["verify", str(other), str(converted["fp32"].path), str(data)])
    assert result.exit_code == 1 and "pass the .keras model it was converted from" in result.output


def test_convert_never_writes_over_the_keras_model_or_its_metadata(trained, tmp_path):
    model, data, _ = trained
    keras_copy, meta_copy = tmp_path / "m.keras", tmp_path / "m.meta.json"
    keras_copy.write_bytes(model.read_bytes())
    meta_copy.write_text(model.with_name("model.meta.json").read_text())
    before = (keras_copy.read_bytes(), meta_copy.read_bytes())
    for out, message in ((tmp_path / "m.tflite", "would write its metadata to"), (keras_copy, "is the input model")):
        result = CliRunner().invoke(cli, ["convert", str(keras_copy), "--quant", "fp32", "--out", str(out)])
        assert result.exit_code == 1 and result.output.startswith("Error: --out") and message in result.output
    with pytest.raises(OutputError, match="would write its metadata to"):
        convert_model(keras_copy, tmp_path / "m.tflite", "fp32")
    assert (keras_copy.read_bytes(), meta_copy.read_bytes()) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m.keras", "m.meta.json"]


def test_cli_int8_without_calibration(trained, tmp_path):
    result = CliRunner().invoke(cli, ["convert", str(trained[0]), "--out", str(tmp_path / "m.tflite")])
    assert result.exit_code == 1 and result.output.startswith("Error: int8 needs real calibration images")


def test_calibration_from_a_vote_folder(tmp_path):
    from fer_edge.votes import EMOTIONS
    from test_votes import write_vote_folder

    write_vote_folder(tmp_path / "ferplus" / "train")
    pixels = calibration_pixels(tmp_path / "ferplus", Preprocessing((48, 48), "grayscale"), samples=4, seed=0)
    assert pixels.shape == (4, 48, 48, 1) and len(EMOTIONS) == 8


def test_convert_all_that_fails_at_int8_leaves_the_folder_as_it_was(trained, tmp_path, monkeypatch):
    import fer_edge.convert.tflite as tflite

    model, data, _ = trained
    out = tmp_path / "models"
    out.mkdir()
    (out / "model_fp32.tflite").write_bytes(b"old fp32")
    (out / "notes.txt").write_text("keep me")
    real = tflite._converter

    def failing_int8(model, quant, *args, **kwargs):
        if quant == "int8":
            raise RuntimeError("calibration blew up")
        return real(model, quant, *args, **kwargs)

    monkeypatch.setattr(tflite, "_converter", failing_int8)
    result = CliRunner().invoke(cli, ["convert", str(model), "--quant", "all", "--calibration", str(data),
                                      "--samples", "40", "--out", str(out)])
    assert result.exit_code == 1 and "int8 failed: calibration blew up" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["model_fp32.tflite", "notes.txt"]  # no staging left either
    assert (out / "model_fp32.tflite").read_bytes() == b"old fp32"


def test_a_failed_verification_publishes_nothing(trained, tmp_path, monkeypatch):
    model, data, _ = trained
    monkeypatch.setattr("fer_edge.convert.verify.verify",
                        lambda *a, **k: (_ for _ in ()).throw(FerEdgeError("no images to verify on")))
    result = CliRunner().invoke(cli, ["convert", str(model), "--quant", "fp16", "--out", str(tmp_path / "m.tflite"),
                                      "--verify-data", str(data / "val")])
    assert result.exit_code == 1 and "no images to verify on" in result.output
    assert list(tmp_path.iterdir()) == []


def test_convert_all_publishes_every_file_together(trained, tmp_path):
    from fer_edge.convert.publish import publish

    model, data, _ = trained
    published = publish(model, tmp_path / "out", "all", data, samples=40)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted([f"model_{q}.tflite" for q in QUANTIZATIONS] + [f"model_{q}.meta.json" for q in QUANTIZATIONS])
    assert [r.path for r in published.results] == [tmp_path / "out" / f"model_{q}.tflite" for q in QUANTIZATIONS]
    assert all(r.path.stat().st_size == r.size_bytes for r in published.results)
    with pytest.raises(FerEdgeError, match="is a folder"):
        publish(model, tmp_path / "out", "fp32")
