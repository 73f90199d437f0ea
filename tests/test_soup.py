"""Model soups: the members' weights averaged into one model, and the refusals of what cannot be averaged."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.cli import cli
from fer_edge.errors import FerEdgeError
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import Preprocessing
from fer_edge.train.keras_io import load_keras_model, save_keras_model
from fer_edge.train.models import build_model
from fer_edge.train.soup import average_weights
from helpers import TINY, TINY_BN

PREP = Preprocessing((32, 32), "grayscale")


def member(seed, arch=TINY_BN, labels=("angry", "happy"), prep=PREP):
    keras.utils.set_random_seed(seed)
    model = build_model(arch, len(labels), prep.input_shape)
    bn = model.get_layer("bn") if arch == TINY_BN else None
    if bn is not None:  # statistics of its own, as after training
        bn.moving_mean.assign(np.full(bn.moving_mean.shape, float(seed), np.float32))
    return model, ModelMetadata(tuple(labels), prep, arch, {"seed": seed})


def _float_weights(model):
    return [np.array(v.numpy()) for v in model.weights if "float" in str(v.dtype)]


def test_every_weight_and_statistic_is_the_members_mean(tmp_path):
    members = [member(seed) for seed in (1, 2, 4)]
    expected = [np.mean(values, 0) for values in zip(*(_float_weights(m) for m, _ in members))]
    soup, metadata = average_weights([m for m, _ in members], [meta for _, meta in members], ["a", "b", "c"])
    for got, want in zip(_float_weights(soup), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(soup.get_layer("bn").moving_mean.numpy(), 7 / 3, rtol=1e-6)
    assert metadata.extra["soup"] == {"members": ["a", "b", "c"]} and metadata.labels == ("angry", "happy")
    path = save_keras_model(soup, metadata, tmp_path / "soup.keras")
    loaded, loaded_meta = load_keras_model(path)
    x = np.random.default_rng(0).uniform(0, 1, (3, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(soup(x)), atol=1e-6)
    assert loaded_meta.extra["soup"]["members"] == ["a", "b", "c"]


@pytest.mark.parametrize("other, message", [
    (lambda: member(2, labels=("angry", "sad")), "labels"),
    (lambda: member(2, prep=Preprocessing((32, 32), "rgb")), "preprocessing"),
    (lambda: member(2, arch=TINY), "arch"),
])
def test_members_that_differ_are_refused(other, message):
    first = member(1)
    second = other()
    with pytest.raises(FerEdgeError, match=f"{message}.*fine-tunes of one model"):
        average_weights([first[0], second[0]], [first[1], second[1]])


def test_one_model_or_another_second_head_is_refused():
    (a, meta_a), (b, meta_b) = member(1), member(2)
    with pytest.raises(FerEdgeError, match="at least two models"):
        average_weights([a], [meta_a])
    meta_b = ModelMetadata(meta_b.labels, meta_b.preprocessing, meta_b.arch, {"aux_labels": ["angry"]})
    with pytest.raises(FerEdgeError, match="second head"):
        average_weights([a, b], [meta_a, meta_b])


def test_other_layers_under_the_same_architecture_name_are_refused():
    (a, meta_a), _ = member(1), None
    keras.utils.set_random_seed(2)
    wider = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(16, 3, use_bias=False),
                              keras.layers.BatchNormalization(name="bn"), keras.layers.ReLU(),
                              keras.layers.MaxPooling2D(4), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax", name="probabilities")])
    with pytest.raises(FerEdgeError, match="weights .their number or shapes. differ"):
        average_weights([a, wider], [meta_a, meta_a])


def test_cli_writes_the_soup_and_refuses_bad_input_with_an_error(tmp_path):
    paths = []
    for seed in (1, 2):
        model, metadata = member(seed)
        paths.append(str(save_keras_model(model, metadata, tmp_path / f"m{seed}.keras")))
    out = tmp_path / "soup.keras"
    result = CliRunner().invoke(cli, ["soup", *paths, "--out", str(out)])
    assert result.exit_code == 0, result.output
    soup, metadata = load_keras_model(out)
    np.testing.assert_allclose(soup.get_layer("bn").moving_mean.numpy(), 1.5, rtol=1e-6)
    assert metadata.extra["soup"]["members"] == paths
    refused = CliRunner().invoke(cli, ["soup", paths[0], "--out", str(out)])
    assert refused.exit_code == 1 and "Error: a soup needs at least two models" in refused.output
    replaced = CliRunner().invoke(cli, ["soup", *paths, "--out", paths[0]])
    assert replaced.exit_code == 1 and "Error: --out" in replaced.output
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(b"not a zip")
    (tmp_path / "damaged.meta.json").write_text((tmp_path / "m1.meta.json").read_text())
    result = CliRunner().invoke(cli, ["soup", paths[0], str(damaged), "--out", str(tmp_path / "x.keras")])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and not (tmp_path / "x.keras").exists()
