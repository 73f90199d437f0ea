"""benchmarks/transplant.py: a two-head model's weights moved, by layer name, into another architecture."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import Preprocessing


@pytest.fixture(scope="module")
def two_head_deep(tmp_path_factory):
    from fer_edge.train.heads import with_aux_head
    from fer_edge.train.keras_io import save_keras_model
    from fer_edge.train.models import build_model

    model = with_aux_head(build_model("sepnet_deep", 3, (48, 48, 1)), 2)
    metadata = ModelMetadata(("a", "b", "c"), Preprocessing((48, 48), "grayscale"), arch="sepnet_deep",
                             extra={"aux_labels": ["a", "b"]})
    return save_keras_model(model, metadata, tmp_path_factory.mktemp("deep") / "heads.keras"), model


def test_sepnet_deep_into_sepnet_keeps_every_shared_layer_and_drops_the_middle_blocks(two_head_deep):
    transplant = load_benchmark("transplant")
    path, source = two_head_deep
    model, metadata, dropped = transplant.transplant(path, "sepnet")
    assert metadata.arch == "sepnet" and metadata.extra["aux_labels"] == ["a", "b"]
    assert dropped and all(name.startswith("block2_middle") for name in dropped) and len(dropped) == 8
    for layer in model.layers:
        for mine, theirs in zip(layer.get_weights(), source.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    assert set(model.output) == {"probabilities", "aux_probabilities"}


def test_an_architecture_whose_layers_the_source_lacks_or_shapes_differently_is_refused(two_head_deep, tmp_path):
    from fer_edge.train.heads import with_aux_head
    from fer_edge.train.keras_io import save_keras_model
    from fer_edge.train.models import build_model

    transplant = load_benchmark("transplant")
    with pytest.raises(SystemExit, match="has no layers"):
        transplant.transplant(two_head_deep[0], "paper_cnn")
    color = with_aux_head(build_model("sepnet", 3, (48, 48, 3)), 2)  # its stem reads 3 channels, its metadata 1
    metadata = ModelMetadata(("a", "b", "c"), Preprocessing((48, 48), "grayscale"), extra={"aux_labels": ["a", "b"]})
    path = save_keras_model(color, metadata, tmp_path / "heads.keras")
    with pytest.raises(SystemExit, match="layer stem1 of sepnet does not fit"):
        transplant.transplant(path, "sepnet")
