"""The model registry and the paper's CNN, layer by layer."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.train.models import build_model, model_names, register_model

# Paper table: (layer, output shape, parameters) at 64x64x3 input and 7 classes.
PAPER_TABLE = [
    ("Conv2D", (64, 64, 128), 3584),
    ("Dropout", (64, 64, 128), 0),
    ("Conv2D", (64, 64, 32), 36896),
    ("MaxPooling2D", (32, 32, 32), 0),
    ("Dropout", (32, 32, 32), 0),
    ("Conv2D", (32, 32, 16), 4624),
    ("BatchNormalization", (32, 32, 16), 64),
    ("MaxPooling2D", (16, 16, 16), 0),
    ("Dropout", (16, 16, 16), 0),
    ("Flatten", (4096,), 0),
    ("Dense", (32,), 131104),
    ("BatchNormalization", (32,), 128),
    ("Dropout", (32,), 0),
    ("Dense", (16,), 528),
    ("Dropout", (16,), 0),
    ("Dense", (7,), 119),
]


def test_paper_cnn_matches_the_paper_table():
    model = build_model("paper_cnn", 7, (64, 64, 3))
    rows = [(type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers]
    assert rows == PAPER_TABLE
    assert model.count_params() == 177_047
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert non_trainable == 96


def test_paper_cnn_adapts_to_classes_and_input():
    model = build_model("paper_cnn", 5, (48, 48, 1))
    assert model.output_shape == (None, 5)
    probabilities = model.predict(np.zeros((2, 48, 48, 1), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_registry_errors():
    assert "paper_cnn" in model_names()
    with pytest.raises(FerEdgeError, match="unknown architecture 'nope'.*paper_cnn"):
        build_model("nope", 7, (64, 64, 3))
    with pytest.raises(FerEdgeError, match="already registered"):
        register_model("paper_cnn")(lambda n, s: None)


@pytest.mark.parametrize("name, params, middle_blocks, widths", [
    ("sepnet", 190_199, 0, (64, 128, 256)), ("sepnet_deep", 262_391, 2, (64, 128, 256)),
    ("sepnet_wide", 1_175_863, 4, (96, 192, 384))])
def test_edge_architectures(name, params, middle_blocks, widths):
    model = build_model(name, 7, (48, 48, 1))
    assert model.count_params() == params
    assert sum(layer.name.endswith("_add") and "middle" in layer.name for layer in model.layers) == middle_blocks
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["block2_out"] == (6, 6, widths[1]) and shapes["block3_out"] == (3, 3, widths[2])
    if middle_blocks:
        assert shapes["block2_middle2_out"] == (6, 6, widths[1])
    if middle_blocks == 4:
        assert shapes["block3_middle2_out"] == (3, 3, widths[2])
    probabilities = model.predict(np.random.default_rng(0).random((2, 48, 48, 1), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_registry_rebuilds_the_shipped_model():
    """The shipped default is a registered architecture with a second head, the two mixed as its metadata says."""
    from pathlib import Path

    from fer_edge.train.heads import Fusion, class_mapping, mixture_model, with_aux_head
    from fer_edge.train.keras_io import load_keras_model

    shipped = Path(__file__).resolve().parents[1] / "fer_edge" / "models" / "default.keras"
    model, metadata = load_keras_model(shipped)
    fusion = metadata.extra["fusion"]
    aux_labels = tuple(fusion["aux_labels"])
    heads = with_aux_head(build_model(metadata.arch, len(metadata.labels), model.input_shape[1:]), len(aux_labels))
    rebuilt = mixture_model(heads, class_mapping(aux_labels, metadata.labels),
                            Fusion(fusion["aux_weight"], tuple(fusion["bias"]), space=fusion["space"]))
    rebuilt.set_weights(model.get_weights())
    pixels = np.random.default_rng(1).random((3,) + model.input_shape[1:], np.float32)
    np.testing.assert_allclose(rebuilt(pixels), model(pixels), atol=1e-6)
