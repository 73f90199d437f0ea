"""Ensembles: several trained models averaged inside one graph, so one file converts, ships and runs as one model."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.labels import canonical_label
from fer_edge.metadata import ModelMetadata
from fer_edge.model_files import require_distinct_output
from fer_edge.train.keras_io import load_keras_model, save_keras_model
from fer_edge.train.layers import MirrorViews, ViewsMean

logger = logging.getLogger(__name__)

ARCH = "ensemble"


def ensemble_labels(label_sets: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The first member's labels, then any label of a later member it lacks (matched by name)."""
    labels = list(label_sets[0])
    for member in label_sets[1:]:
        names = [canonical_label(name) for name in labels]
        labels.extend(name for name in member if canonical_label(name) not in names)
    return tuple(labels)


def _mapping(member: tuple[str, ...], labels: tuple[str, ...], weight: float) -> np.ndarray:
    names = [canonical_label(name) for name in labels]
    matrix = np.zeros((len(member), len(labels)), np.float32)
    for i, name in enumerate(member):
        matrix[i, names.index(canonical_label(name))] = weight
    return matrix


def _check_members(metadatas: list[ModelMetadata], weights: list[float]) -> None:
    if len(metadatas) < 2:
        raise FerEdgeError("an ensemble needs at least two models")
    if len(weights) != len(metadatas) or min(weights) < 0 or sum(weights) <= 0:
        raise FerEdgeError(f"give one non-negative weight per model ({len(metadatas)}), not all zero; got {weights}")
    first = metadatas[0].preprocessing
    first_names = {canonical_label(name) for name in metadatas[0].labels}
    for number, metadata in enumerate(metadatas[1:], start=2):
        if metadata.preprocessing != first:
            raise FerEdgeError(f"every member needs the same preprocessing: {metadata.preprocessing} is not {first}")
        if not first_names & {canonical_label(name) for name in metadata.labels}:
            raise FerEdgeError(f"model {number} (labels {', '.join(metadata.labels)}) shares no label with model 1 "
                               f"({', '.join(metadatas[0].labels)}): their probabilities cannot be averaged; "
                               "ensemble models of the same expressions")


def build_ensemble(models: list[keras.Model], metadatas: list[ModelMetadata], weights: list[float] | None = None,
                   mirrored: list[bool] | None = None) -> tuple[keras.Model, ModelMetadata]:
    """One model whose output is the weighted mean of the members' probabilities.

    Members may have different label sets: each member's probabilities are placed on the
    ensemble's labels (`ensemble_labels`) by a fixed linear layer, so a label a member lacks
    gets no probability from it. A member marked in `mirrored` gives the mean of its
    probabilities on the image and on its mirror image (mirror TTA for that member alone), both
    views in one pass of a batch twice as large (`MirrorViews`, `ViewsMean`).

    Raises:
        FerEdgeError: fewer than two members, bad weights or marks, members with different preprocessing, or a
            member that shares no label with the first.
    """
    weights = list(weights) if weights is not None else [1.0] * len(models)
    mirrored = list(mirrored) if mirrored is not None else [False] * len(models)
    _check_members(metadatas, weights)
    if len(mirrored) != len(models):
        raise FerEdgeError(f"give one mirror mark per model ({len(models)}); got {len(mirrored)}")
    total = float(sum(weights))
    labels = ensemble_labels([metadata.labels for metadata in metadatas])
    inputs = keras.Input(shape=metadatas[0].preprocessing.input_shape, name="image")
    views = MirrorViews(name="views")(inputs) if any(mirrored) else None  # the faces, then their mirror images
    parts = []
    for index, (model, metadata, weight) in enumerate(zip(models, metadatas, weights)):
        model.name = f"member{index}"  # nested models need distinct names
        output = ViewsMean(name=f"member{index}_views")(model(views)) if mirrored[index] else model(inputs)
        place = keras.layers.Dense(len(labels), use_bias=False, trainable=False, name=f"member{index}_labels")
        parts.append(place(output))
        place.set_weights([_mapping(metadata.labels, labels, weight / total)])
    outputs = keras.layers.Add(name="probabilities")(parts)
    extra = {"members": [{"arch": m.arch, "labels": list(m.labels), "weight": w / total,
                          "mirror": mirror,
                          "extra": {k: m.extra[k] for k in ("val_accuracy", "fusion", "train_options") if k in m.extra}}
                         for m, w, mirror in zip(metadatas, weights, mirrored)]}
    metadata = ModelMetadata(labels, metadatas[0].preprocessing, ARCH, extra, tta=metadatas[0].tta,
                             tta_threshold=metadatas[0].tta_threshold)  # until `fer-edge calibrate` chooses its own
    return keras.Model(inputs, outputs, name=ARCH), metadata


def ensemble_file(paths: list[str | Path], out: str | Path, weights: list[float] | None = None) -> Path:
    """Build the ensemble of the `.keras` models at `paths` and save it (with its metadata) to `out`.

    Raises:
        FerEdgeError: unreadable or incompatible members (see `build_ensemble`), or an `out` that would replace one.
    """
    require_distinct_output(out, paths)
    loaded = [load_keras_model(path) for path in paths]
    model, metadata = build_ensemble([m for m, _ in loaded], [meta for _, meta in loaded], weights)
    logger.info("ensemble of %d models, labels %s", len(paths), list(metadata.labels))
    return save_keras_model(model, metadata, Path(out))
