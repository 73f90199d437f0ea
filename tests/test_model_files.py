"""fer_edge/model_files.py: shipped names and model paths resolve, and wrong ones say what is wrong."""

from __future__ import annotations

import zipfile

import pytest

from fer_edge.errors import ModelError, OutputError
from fer_edge.metadata import ModelMetadata, save_metadata, sidecar_path
from fer_edge.model_files import (SHIPPED_MODELS, load_model_metadata, require_distinct_output, resolve_model,
                                  shipped_model_path)
from fer_edge.preprocess import Preprocessing


def test_shipped_names_and_files_resolve(tmp_path):
    assert resolve_model("accurate") == shipped_model_path("accurate")
    model = tmp_path / "mine.tflite"
    model.write_bytes(b"TFL3")
    assert resolve_model(model) == model and resolve_model(str(model)) == model


def test_a_folder_is_refused_as_a_folder(tmp_path):
    with pytest.raises(ModelError, match=r"is a folder; pass a model file .* default, accurate"):
        resolve_model(tmp_path)


def test_a_misspelt_shipped_name_lists_the_shipped_models():
    with pytest.raises(ModelError, match=r"model file not found: accurat \(not a file, nor a shipped model: "
                                          r"default, accurate\)"):
        resolve_model("accurat")


def test_a_missing_file_with_a_suffix_is_only_not_found(tmp_path):
    with pytest.raises(ModelError, match=r"model file not found: .*none\.tflite$"):
        resolve_model(tmp_path / "none.tflite")


def test_an_unknown_shipped_name_is_refused():
    with pytest.raises(ModelError, match="no shipped model 'tiny'"):
        shipped_model_path("tiny")
    assert SHIPPED_MODELS == ("default", "accurate")


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_model_name_is_refused_as_empty(name):
    with pytest.raises(ModelError, match="the model name is empty; pass one of default, accurate"):
        resolve_model(name)


def test_model_metadata_of_both_kinds_reads_without_loading_the_model(tmp_path):
    _, shipped = load_model_metadata("default")
    assert shipped.extra["quantization"] == "int8" and "happiness" in shipped.labels
    keras_file = tmp_path / "m.keras"
    with zipfile.ZipFile(keras_file, "w") as archive:  # only the container matters: the model is not loaded
        archive.writestr("config.json", "{}")
    save_metadata(ModelMetadata(("calm", "joy"), Preprocessing((48, 48), "grayscale"), "mine"), sidecar_path(keras_file))
    path, metadata = load_model_metadata(keras_file)
    assert path == keras_file and metadata.labels == ("calm", "joy") and metadata.preprocessing.input_size == (48, 48)


def test_model_metadata_refuses_a_damaged_keras_file_and_other_types(tmp_path):
    keras_file = tmp_path / "m.keras"
    keras_file.write_bytes(b"PK but no zip")
    with pytest.raises(ModelError, match=r"m\.keras is not a Keras model: a \.keras file is the zip archive"):
        load_model_metadata(keras_file)
    other = tmp_path / "m.onnx"
    other.write_bytes(b"onnx")
    with pytest.raises(ModelError, match=r"m\.onnx: expected a \.tflite or \.keras model"):
        load_model_metadata(other)
    keras_file.unlink()
    with zipfile.ZipFile(keras_file, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ModelError, match=r"model metadata not found: .*m\.meta\.json \(a fer-edge model keeps"):
        load_model_metadata(keras_file)


def test_an_output_never_replaces_an_input_model_or_its_metadata(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = [tmp_path / "a.keras", tmp_path / "b.keras"]
    with pytest.raises(OutputError, match=r"--out b\.keras is the input model .*b\.keras: writing it would replace"):
        require_distinct_output("b.keras", inputs)  # the same file under another spelling
    with pytest.raises(OutputError, match=r"--out .*a\.tflite would write its metadata to .*a\.meta\.json, the "
                                          r"metadata of the input model .*a\.keras; choose another name "
                                          r"\(e\.g\. a_new\.tflite\)"):
        require_distinct_output(tmp_path / "a.tflite", inputs)
    require_distinct_output(tmp_path / "a_int8.tflite", inputs)  # no clash: nothing raised
    require_distinct_output(tmp_path / "sub" / "a.keras", inputs)
