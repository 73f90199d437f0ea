"""Keras model files: safe mode refuses code inside a model file with one clear line, and never runs it; saved
models keep weights, not the optimizer."""

from __future__ import annotations

import io
import zipfile

import h5py
import keras
import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.cli import cli
from fer_edge.errors import ModelError, OutputError
from fer_edge.metadata import ModelMetadata, save_metadata, sidecar_path
from fer_edge.preprocess import Preprocessing
from fer_edge.train.keras_io import load_keras_model, save_keras_model, save_model_file
from fer_edge.train.radam import RAdam


def model_with_code(path, marker):
    """A model whose Lambda layer would write `marker` if its code ever ran."""
    inputs = keras.Input((8, 8, 1))
    code = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")  # the path is a constant of the code
    outputs = keras.layers.Lambda(code)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(outputs))
    marker.unlink(missing_ok=True)  # building the layer ran it once; the file on disk must never run it again
    keras.Model(inputs, outputs).save(path)
    marker.unlink(missing_ok=True)
    save_metadata(ModelMetadata(("a", "b"), Preprocessing((8, 8), "grayscale"), "custom"), sidecar_path(path))
    return path


def test_safe_mode_refuses_a_lambda_layer_in_one_line(tmp_path):
    path = model_with_code(tmp_path / "evil.keras", tmp_path / "ran")
    with pytest.raises(ModelError) as error:
        load_keras_model(path)
    message = str(error.value)
    assert "refused: it holds Python code" in message and "\n" not in message and len(message) < 400
    assert not (tmp_path / "ran").exists()


def test_the_cli_prints_the_refusal_as_one_error_line(tmp_path):
    path = model_with_code(tmp_path / "evil.keras", tmp_path / "ran")
    result = CliRunner().invoke(cli, ["convert", str(path), "--quant", "fp32", "--out", str(tmp_path / "m.tflite")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1
    assert lines[0].startswith("Error: cannot load Keras model") and "refused: it holds Python code" in lines[0]
    assert not (tmp_path / "ran").exists() and not (tmp_path / "m.tflite").exists()


def plain_model(path):
    """A small ordinary model (two labels) saved with its metadata."""
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(path)
    save_metadata(ModelMetadata(("a", "b"), Preprocessing((8, 8), "grayscale"), "custom"), sidecar_path(path))
    return path


def test_a_damaged_file_is_one_line_too(tmp_path):
    path = model_with_code(tmp_path / "m.keras", tmp_path / "ran")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="m.keras is not a Keras model: a .keras file is the zip archive") as error:
        load_keras_model(path)
    assert "\n" not in str(error.value) and "File not found" not in str(error.value)


def test_changed_bytes_inside_the_archive_are_called_damage(tmp_path):
    path = plain_model(tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive:
        weights = archive.getinfo("model.weights.h5")
    data = bytearray(path.read_bytes())
    start = weights.header_offset + 30 + len(weights.filename.encode()) + weights.compress_size // 2
    data[start:start + 64] = bytes(byte ^ 0xFF for byte in data[start:start + 64])  # the zip's directory is intact
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="m.keras: the file is damaged .*Bad CRC-32.*; copy it again or retrain"):
        load_keras_model(path)


def test_saving_where_a_file_is_in_the_way_is_an_output_error(tmp_path):
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    (tmp_path / "runs").write_text("keep me")
    with pytest.raises(OutputError, match=r"cannot create the output folder .*runs: a file of that name is in the way"):
        save_model_file(model, tmp_path / "runs" / "m.keras")
    assert save_model_file(model, tmp_path / "new" / "m.keras").is_file()  # its folder is made
    assert sorted(path.name for path in (tmp_path / "new").iterdir()) == ["m.keras"]  # no temporary file left
    result = CliRunner().invoke(cli, ["ensemble", str(plain_model(tmp_path / "a.keras")), str(tmp_path / "a.keras"),
                                      "--out", str(tmp_path / "runs" / "e.keras")])
    assert result.exit_code == 2 and "Invalid value for '--out': cannot create the output folder" in result.output


def test_a_zip_that_is_no_keras_model_is_refused(tmp_path):
    path = plain_model(tmp_path / "m.keras")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ModelError, match="cannot load Keras model .*m.keras: .*config.json"):
        load_keras_model(path)


def test_info_reads_a_keras_model_from_its_metadata(tmp_path):
    path = plain_model(tmp_path / "m.keras")
    result = CliRunner().invoke(cli, ["info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"labels": [\n    "a",\n    "b"\n  ]' in result.output and '"arch": "custom"' in result.output
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert "arch:       custom, precision float32 (Keras)" in result.output
    assert "input:      8x8 grayscale" in result.output
    path.write_bytes(b"not a zip")
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "is not a Keras model" in result.output


def test_a_trained_model_is_saved_without_its_optimizer(tmp_path):
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.BatchNormalization()(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    model.compile(optimizer=RAdam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    pixels = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    model.fit(pixels, np.arange(16) % 2, epochs=1, batch_size=8, verbose=0)  # optimizer slots and BN statistics
    metadata = ModelMetadata(("a", "b"), Preprocessing((8, 8), "grayscale"), "custom")
    path = save_keras_model(model, metadata, tmp_path / "m.keras")
    loaded, loaded_metadata = load_keras_model(path)
    assert loaded_metadata == metadata
    assert getattr(keras.saving.load_model(path), "optimizer", None) is None  # compiled as saved: not at all
    for saved, original in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, original)  # moving mean and variance included
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0), atol=1e-6)
    assert model.optimizer is not None  # the caller's model keeps training state
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        assert "optimizer" not in weights
