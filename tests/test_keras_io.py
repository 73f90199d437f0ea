"""Keras model files: safe mode refuses code inside a model file with one clear line, and never runs it."""

from __future__ import annotations

import keras
import pytest
from click.testing import CliRunner

from fer_edge.cli import cli
from fer_edge.errors import ModelError
from fer_edge.metadata import ModelMetadata, save_metadata, sidecar_path
from fer_edge.preprocess import Preprocessing
from fer_edge.train.keras_io import load_keras_model


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


def test_a_damaged_file_is_one_line_too(tmp_path):
    path = model_with_code(tmp_path / "m.keras", tmp_path / "ran")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="cannot load Keras model") as error:
        load_keras_model(path)
    assert "\n" not in str(error.value)
