"""Ensembles in one graph: the weighted mean of members' probabilities, members with different label sets."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.cli import cli
from fer_edge.errors import FerEdgeError
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import Preprocessing
from fer_edge.train.ensemble import build_ensemble, ensemble_labels
from fer_edge.train.keras_io import load_keras_model, save_keras_model
from fer_edge.train.models import build_model
from helpers import TINY

PREP = Preprocessing((32, 32), "grayscale")


def member(labels, seed, prep=PREP):
    keras.utils.set_random_seed(seed)
    return build_model(TINY, len(labels), prep.input_shape), ModelMetadata(tuple(labels), prep, TINY)


def test_labels_are_the_first_members_then_the_missing_ones_by_name():
    assert ensemble_labels([("angry", "happy"), ("happiness", "anger", "contempt")]) == ("angry", "happy", "contempt")


def test_ensemble_is_the_weighted_mean_of_its_members_on_their_labels():
    (a, meta_a), (b, meta_b) = member(("angry", "happy"), 1), member(("happiness", "anger", "contempt"), 2)
    x = np.random.default_rng(0).uniform(0, 1, (5, 32, 32, 1)).astype("float32")
    pa, pb = np.asarray(a(x)), np.asarray(b(x))
    model, metadata = build_ensemble([a, b], [meta_a, meta_b], [3.0, 1.0])
    expected = np.stack([0.75 * pa[:, 0] + 0.25 * pb[:, 1], 0.75 * pa[:, 1] + 0.25 * pb[:, 0], 0.25 * pb[:, 2]], 1)
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-6)
    assert metadata.labels == ("angry", "happy", "contempt") and metadata.arch == "ensemble"
    assert [m["weight"] for m in metadata.extra["members"]] == [0.75, 0.25]
    gated = replace(meta_a, tta="mirror-unsure", tta_threshold=0.6)
    _, inherited = build_ensemble([a, b], [gated, meta_b])
    assert (inherited.tta, inherited.tta_threshold) == ("mirror-unsure", 0.6)  # the first member's, threshold too


def test_a_mirrored_member_gives_the_mean_of_both_views_and_survives_saving(tmp_path):
    (a, meta_a), (b, meta_b) = member(("angry", "happy"), 1), member(("angry", "happy"), 2)
    x = np.random.default_rng(4).uniform(0, 1, (5, 32, 32, 1)).astype("float32")
    flipped = x[:, :, ::-1]
    expected = 0.5 * (np.asarray(a(x)) + np.asarray(a(flipped))) / 2 + 0.5 * np.asarray(b(x))
    model, metadata = build_ensemble([a, b], [meta_a, meta_b], mirrored=[True, False])
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-6)
    assert not np.allclose(expected, (np.asarray(a(x)) + np.asarray(b(x))) / 2, atol=1e-3)  # the view matters
    assert [m["mirror"] for m in metadata.extra["members"]] == [True, False]
    path = save_keras_model(model, metadata, tmp_path / "mirrored.keras")
    loaded, _ = load_keras_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), expected, atol=1e-6)
    fresh = subprocess.run([sys.executable, "-c", "import sys; from fer_edge.train.keras_io import load_keras_model; "
                            "load_keras_model(sys.argv[1])", str(path)], capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr[-2000:]  # loads where nothing imported the ensemble module
    with pytest.raises(FerEdgeError, match="one mirror mark per model"):
        build_ensemble([a, b], [meta_a, meta_b], mirrored=[True])


def test_an_ensemble_saved_with_the_older_mirror_layer_still_loads(tmp_path):
    from fer_edge.train.layers import Mirror

    (a, meta), inputs = member(("angry", "happy"), 3), keras.Input(PREP.input_shape)
    model = keras.Model(inputs, a(Mirror(name="mirror")(inputs)))
    path = save_keras_model(model, meta, tmp_path / "old.keras")
    x = np.random.default_rng(1).uniform(0, 1, (2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(load_keras_model(path)[0](x)), np.asarray(a(x[:, :, ::-1])), atol=1e-6)


@pytest.mark.parametrize("weights, message", [([1.0], "one non-negative weight"), ([1.0, -1.0], "non-negative"),
                                              ([0.0, 0.0], "not all zero")])
def test_bad_weights_are_refused(weights, message):
    members = [member(("a", "b"), 1), member(("a", "b"), 2)]
    with pytest.raises(FerEdgeError, match=message):
        build_ensemble([m for m, _ in members], [meta for _, meta in members], weights)


def test_members_need_the_same_preprocessing_and_at_least_two_of_them():
    (a, meta_a), (b, meta_b) = member(("a", "b"), 1), member(("a", "b"), 2, Preprocessing((32, 32), "rgb"))
    with pytest.raises(FerEdgeError, match="same preprocessing"):
        build_ensemble([a, b], [meta_a, meta_b])
    with pytest.raises(FerEdgeError, match="at least two"):
        build_ensemble([a], [meta_a])


def test_a_member_sharing_no_label_with_the_first_is_refused():
    (a, meta_a), (b, meta_b) = member(("happy", "sad"), 1), member(("Happiness", "contempt"), 2)
    model, metadata = build_ensemble([a, b], [meta_a, meta_b])  # one label in common (by name): allowed
    assert metadata.labels == ("happy", "sad", "contempt")
    (c, meta_c) = member(("angry", "calm"), 3)
    with pytest.raises(FerEdgeError, match=r"model 3 \(labels angry, calm\) shares no label with model 1 "
                                           r"\(happy, sad\): their probabilities cannot be averaged"):
        build_ensemble([a, b, c], [meta_a, meta_b, meta_c])


def test_the_ensemble_command_never_replaces_a_member(tmp_path):
    paths = []
    for index in (1, 2):
        model, metadata = member(("a", "b"), index)
        paths.append(save_keras_model(model, metadata, tmp_path / f"m{index}.keras"))
    before = [path.read_bytes() for path in paths]
    result = CliRunner().invoke(cli, ["ensemble", *map(str, paths), "--out", str(paths[0])])
    assert result.exit_code == 1 and "Error: --out" in result.output and "would replace that model" in result.output
    assert [path.read_bytes() for path in paths] == before


def test_ensemble_command_saves_a_model_that_loads_and_predicts(tmp_path):
    paths = []
    for seed in (1, 2):
        model, metadata = member(("angry", "happy"), seed)
        paths.append(str(save_keras_model(model, metadata, tmp_path / f"m{seed}.keras")))
    result = CliRunner().invoke(cli, ["ensemble", *paths, "--out", str(tmp_path / "e.keras"), "--weights", "1,1"])
    assert result.exit_code == 0, result.output
    model, metadata = load_keras_model(tmp_path / "e.keras")
    x = np.random.default_rng(1).uniform(0, 1, (3, 32, 32, 1)).astype("float32")
    members = [load_keras_model(p)[0] for p in paths]
    np.testing.assert_allclose(np.asarray(model(x)), np.mean([np.asarray(m(x)) for m in members], 0), atol=1e-6)
    bad = CliRunner().invoke(cli, ["ensemble", *paths, "--out", str(tmp_path / "f.keras"), "--weights", "1,x"])
    assert bad.exit_code == 2 and "expected numbers" in bad.output
