"""fer_edge/model_files.py: shipped names and model paths resolve, and wrong ones say what is wrong."""

from __future__ import annotations

import pytest

from fer_edge.errors import ModelError
from fer_edge.model_files import SHIPPED_MODELS, resolve_model, shipped_model_path


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
