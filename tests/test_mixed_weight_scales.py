"""benchmarks/mixed_weight_scales.py: a per-tensor int8 model with chosen layers' per-channel weights."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark
from fer_edge.tflite_metadata import read_embedded_json


@pytest.fixture(scope="module")
def mixed():
    return load_benchmark("mixed_weight_scales")


@pytest.fixture(scope="module")
def both(trained, tmp_path_factory):
    """The tiny model as int8 twice from the same calibration faces: (per-tensor bytes, per-channel bytes, faces)."""
    from fer_edge.convert.calibration import calibration_pixels
    from fer_edge.convert.tflite import convert_model
    from fer_edge.train.keras_io import load_keras_model

    model, data, _ = trained
    folder = tmp_path_factory.mktemp("mixed")
    files = [convert_model(model, folder / f"{name}.tflite", "int8", data, 60, 0, per_tensor).path.read_bytes()
             for name, per_tensor in (("tensor", True), ("channel", False))]
    faces = calibration_pixels(data, load_keras_model(model)[1].preprocessing, 60, 1)
    return files[0], files[1], faces


def test_layers_with_per_channel_scales_and_what_they_cost(mixed, both):
    from tensorflow.lite.tools import flatbuffer_utils

    per_tensor, per_channel, _ = both
    source = flatbuffer_utils.convert_bytearray_to_object(bytearray(per_channel))
    layers = mixed.per_channel_layers(source)
    assert layers and all(len(tensors) == 2 for tensors in layers.values())  # a weight and a bias each
    assert mixed.per_channel_layers(flatbuffer_utils.convert_bytearray_to_object(bytearray(per_tensor))) == {}
    extra = sum(mixed.scale_bytes(source, tensors) for tensors in layers.values())
    assert abs((len(per_channel) - len(per_tensor)) - extra) < 64  # the scales are the whole difference


def test_no_layer_is_the_per_tensor_model_and_every_layer_the_per_channel_one(mixed, both):
    from tensorflow.lite.tools import flatbuffer_utils

    per_tensor, per_channel, faces = both
    layers = set(mixed.per_channel_layers(flatbuffer_utils.convert_bytearray_to_object(bytearray(per_channel))))
    np.testing.assert_array_equal(mixed.probabilities(mixed.mix(per_tensor, per_channel, set()), faces),
                                  mixed.probabilities(per_tensor, faces))
    every = mixed.mix(per_tensor, per_channel, layers)
    np.testing.assert_array_equal(mixed.probabilities(every, faces), mixed.probabilities(per_channel, faces))
    assert abs(len(every) - len(per_channel)) < 256  # the old metadata buffer is emptied, not kept
    extra = read_embedded_json(every)["extra"]
    assert extra["weight_scales"] == "mixed" and extra["per_channel_layers"] == sorted(layers)


def test_each_greedy_step_adds_the_layer_that_brings_the_model_nearest_to_float(mixed, both, trained):
    from tensorflow.lite.tools import flatbuffer_utils

    from fer_edge.model_files import load_classifier

    per_tensor, per_channel, faces = both
    reference = np.asarray(load_classifier(trained[0], tta="none").predict_pixels(faces))
    layers = mixed.per_channel_layers(flatbuffer_utils.convert_bytearray_to_object(bytearray(per_channel)))

    def distance(chosen: set) -> float:
        return float(np.abs(mixed.probabilities(mixed.mix(per_tensor, per_channel, chosen), faces)
                            - reference).sum(axis=1).mean())

    alone = {layer: distance({layer}) for layer in layers}
    steps = mixed.greedy(per_tensor, per_channel, faces, reference, 2)
    first = min(alone, key=alone.get)
    assert steps[0]["layers"] == [first] and steps[0]["l1_to_float"] == pytest.approx(alone[first])
    second = min((layer for layer in layers if layer != first), key=lambda layer: distance({first, layer}))
    assert steps[1]["layers"] == sorted({first, second})
    assert 0 < steps[0]["extra_bytes"] < steps[1]["extra_bytes"]


def test_conversions_of_different_models_are_refused(mixed, both):
    per_tensor, per_channel, _ = both
    from tensorflow.lite.tools import flatbuffer_utils

    other = flatbuffer_utils.convert_bytearray_to_object(bytearray(per_channel))
    layer, tensors = next(iter(mixed.per_channel_layers(other).items()))
    other.subgraphs[0].tensors[tensors[0]].name = b"another_model/kernel"
    renamed = bytes(flatbuffer_utils.convert_object_to_bytearray(other))
    with pytest.raises(ValueError, match="the two conversions differ at tensor"):
        mixed.mix(per_tensor, renamed, {layer})
