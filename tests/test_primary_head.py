"""benchmarks/primary_head.py: a two-head model's first head saved alone, and what it refuses."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import load_benchmark
from fer_edge.errors import FerEdgeError
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import Preprocessing
from fer_edge.train.heads import HEAD, with_aux_head
from fer_edge.train.keras_io import load_keras_model, save_keras_model
from fer_edge.train.models import build_model
from helpers import TINY

PREP = Preprocessing((32, 32), "grayscale")
LABELS = ("anger", "happiness")


@pytest.fixture(scope="module")
def save_primary_head():
    return load_benchmark("primary_head").save_primary_head


def _saved(tmp_path, two_heads: bool):
    keras.utils.set_random_seed(3)
    model = build_model(TINY, len(LABELS), PREP.input_shape)
    extra = {"seed": 3}
    if two_heads:
        model = with_aux_head(model, 2)
        extra["aux_labels"] = ["angry", "happy"]  # FER2013 spellings of the same classes, as a real run has
    return model, save_keras_model(model, ModelMetadata(LABELS, PREP, TINY, extra), tmp_path / "heads.keras")


def test_the_first_head_alone_gives_the_two_head_models_first_output(tmp_path, save_primary_head):
    heads, path = _saved(tmp_path, two_heads=True)
    single, metadata = load_keras_model(save_primary_head(path, tmp_path / "primary.keras"))
    x = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(single(x)), np.asarray(heads(x)[HEAD]), atol=1e-6)
    assert metadata.labels == LABELS and "aux_labels" not in metadata.extra and metadata.extra["seed"] == 3
    assert metadata.extra["primary_head_of"] == str(path)


def test_a_one_head_model_or_an_output_over_the_input_is_refused(tmp_path, save_primary_head):
    _, one_head = _saved(tmp_path, two_heads=False)
    with pytest.raises(FerEdgeError, match="not a two-head model"):
        save_primary_head(one_head, tmp_path / "primary.keras")
    with pytest.raises(FerEdgeError, match="would replace"):
        save_primary_head(one_head, one_head)
    assert not (tmp_path / "primary.keras").exists()
