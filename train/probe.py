"""A head for a second label set on a trained model's frozen features: a one-head model becomes a two-head one."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from fer_edge.dataset import load_dataset
from fer_edge.errors import FerEdgeError
from fer_edge.metadata import ModelMetadata
from fer_edge.model_files import require_distinct_output
from fer_edge.preprocess import normalize
from fer_edge.train.heads import AUX_HEAD, HEAD, model_input
from fer_edge.train.keras_io import load_keras_model, save_keras_model
from fer_edge.train.radam import RAdam

logger = logging.getLogger(__name__)


def _features(model: keras.Model, pixels: np.ndarray, metadata: ModelMetadata) -> np.ndarray:
    features = keras.Model(model_input(model), model.get_layer(HEAD).input)
    return np.asarray(features.predict(normalize(pixels, metadata.preprocessing), batch_size=256, verbose=0))


def fit_head(features: np.ndarray, targets: np.ndarray, epochs: int = 30, seed: int = 0) -> keras.layers.Dense:
    """A softmax Dense layer fitted to `targets` (one-hot or soft) on fixed `features` (RAdam, batch 256)."""
    keras.utils.set_random_seed(seed)
    head = keras.layers.Dense(targets.shape[1], activation="softmax", name=HEAD)
    probe = keras.Sequential([keras.Input(shape=features.shape[1:]), head])
    probe.compile(optimizer=RAdam(learning_rate=3e-3), loss="categorical_crossentropy")
    probe.fit(features, targets, batch_size=256, epochs=epochs, verbose=0, shuffle=True)
    return head


def add_head_file(model_path: str | Path, data: str | Path, out: str | Path, label_mode: str = "probability",
                  epochs: int = 30) -> Path:
    """Make a one-head model (e.g. trained on FER2013) into a two-head model for `fer-edge fuse-heads`.

    A new primary head for `data`'s labels (e.g. FER+ vote shares) is fitted on the model's frozen
    features of `data`'s training split; the model's own head becomes the second (aux) head.

    Raises:
        FerEdgeError: a two-head model already, an architecture without a `probabilities` layer, or an `out`
            that would replace the model.
    """
    require_distinct_output(out, [model_path])
    model, metadata = load_keras_model(model_path)
    if len(model.outputs) > 1 or "aux_labels" in metadata.extra:
        raise FerEdgeError(f"{model_path} already has two heads")
    if metadata.extra.get("fusion", {}).get("space") == "probability":
        raise FerEdgeError(f"{model_path} already mixes two heads' probabilities; give add-head a one-head model")
    dataset = load_dataset(data, metadata.preprocessing, label_mode=label_mode)
    train = dataset.splits["train"]
    head = fit_head(_features(model, train.pixels, metadata), train.target_matrix(len(dataset.classes)), epochs)
    features = model.get_layer(HEAD).input
    old = model.get_layer(HEAD)
    aux = keras.layers.Dense(old.units, activation="softmax", name=AUX_HEAD)
    outputs = {AUX_HEAD: aux(features)}
    primary = keras.layers.Dense(head.units, activation="softmax", name=HEAD)  # the old head leaves the graph
    outputs[HEAD] = primary(features)
    heads = keras.Model(model_input(model), outputs, name=model.name)
    aux.set_weights(old.get_weights())
    primary.set_weights(head.get_weights())
    extra = {**metadata.extra, "aux_labels": list(metadata.labels),
             "probe": {"data": str(data), "label_mode": label_mode, "epochs": epochs, "faces": len(train)}}
    logger.info("fitted a %d-class head on %d faces of %s", head.units, len(train), data)
    return save_keras_model(heads, ModelMetadata(dataset.classes, metadata.preprocessing, metadata.arch, extra),
                            Path(out))
