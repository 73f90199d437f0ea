"""Model soups: the weights of models fine-tuned from one start, averaged into one model of the same size and speed."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.metadata import ModelMetadata
from fer_edge.model_files import require_distinct_output
from fer_edge.train.keras_io import load_keras_model, save_keras_model

logger = logging.getLogger(__name__)


def _check_members(models: list[keras.Model], metadatas: list[ModelMetadata]) -> None:
    if len(models) < 2:
        raise FerEdgeError("a soup needs at least two models fine-tuned from one start")
    first, layout = metadatas[0], [tuple(v.shape) for v in models[0].weights]
    for number, (model, metadata) in enumerate(zip(models[1:], metadatas[1:]), start=2):
        for what in ("labels", "preprocessing", "arch"):
            if getattr(metadata, what) != getattr(first, what):
                raise FerEdgeError(f"model {number}'s {what} ({getattr(metadata, what)}) differ from model 1's "
                                   f"({getattr(first, what)}): average only fine-tunes of one model")
        if metadata.extra.get("aux_labels") != first.extra.get("aux_labels"):
            raise FerEdgeError(f"model {number}'s second head ({metadata.extra.get('aux_labels')}) differs from "
                               f"model 1's ({first.extra.get('aux_labels')}): average only fine-tunes of one model")
        if [tuple(v.shape) for v in model.weights] != layout:
            raise FerEdgeError(f"model {number}'s weights (their number or shapes) differ from model 1's: "
                               "average only fine-tunes of one model")


def average_weights(models: list[keras.Model], metadatas: list[ModelMetadata],
                    names: list[str] | None = None) -> tuple[keras.Model, ModelMetadata]:
    """One model whose every float weight (batch-norm statistics included) is the mean of the members'.

    Averaging only works for models fine-tuned from one start, which stay in one basin of the loss
    (Wortsman et al. 2022, "Model soups"); models trained apart average into noise. Integer variables
    (random-seed states) are the first member's. The first member is modified in place and returned.

    Raises:
        FerEdgeError: fewer than two models, or members with other labels, preprocessing or layers.
    """
    _check_members(models, metadatas)
    soup = models[0]
    for variables in zip(*(model.weights for model in models)):
        if "float" in str(variables[0].dtype):
            variables[0].assign(np.mean([np.asarray(variable.numpy(), np.float64) for variable in variables], 0))
    extra = {**metadatas[0].extra, "soup": {"members": names or [f"model {i + 1}" for i in range(len(models))]}}
    return soup, replace(metadatas[0], extra=extra)


def soup_file(paths: list[str | Path], out: str | Path) -> Path:
    """Average the weights of the `.keras` models at `paths` (`average_weights`) and save the result to `out`.

    Raises:
        FerEdgeError: unreadable or incompatible members, or an `out` that would replace one.
    """
    require_distinct_output(out, paths)
    loaded = [load_keras_model(path) for path in paths]
    model, metadata = average_weights([m for m, _ in loaded], [meta for _, meta in loaded], [str(p) for p in paths])
    logger.info("averaged the weights of %d models", len(paths))
    return save_keras_model(model, metadata, Path(out))
