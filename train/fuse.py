"""fer-edge fuse-heads: choose how a two-head model's heads fuse, on labelled validation faces; save the result."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from fer_edge.dataset import load_labeled_folder
from fer_edge.errors import FerEdgeError
from fer_edge.evaluation import map_classes_to_labels
from fer_edge.metadata import ModelMetadata
from fer_edge.model_files import require_distinct_output
from fer_edge.preprocess import normalize
from fer_edge.train.heads import (AUX_HEAD, Fusion, FusionGoal, HeadScores, choose_fusion, class_mapping,
                                  fuse_heads, head_logits, mixture_model, weights_text)
from fer_edge.train.ensemble import build_ensemble
from fer_edge.train.keras_io import load_keras_model, save_keras_model
from fer_edge.train.models import build_model

logger = logging.getLogger(__name__)

MEMBER_TTA = ("none", "mirror")
"""A member's views inside a fused graph: the face, or the face and its mirror image (a gate such as mirror-unsure
has no place in one graph's fixed passes)."""


@dataclass(frozen=True)
class FuseResult:
    """The chosen fusion, the sweep behind it, and the saved model."""

    fusion: Fusion
    sweep: list[dict]
    model_path: Path

    @property
    def chosen(self) -> dict:
        """The sweep row of the chosen fusion."""
        return next(row for row in self.sweep if row["fusion"] == self.fusion.to_dict())


def member_tta(tta: str | Sequence[str], members: int) -> tuple[str, ...]:
    """Each member's test-time augmentation from "none", "mirror" or one value per member ("none,mirror,mirror").

    Raises:
        FerEdgeError: an unknown value, or neither one value nor one per member.
    """
    values = tuple(tta.split(",")) if isinstance(tta, str) else tuple(tta)
    if any(value not in MEMBER_TTA for value in values) or len(values) not in (1, members):
        raise FerEdgeError(f"TTA takes {' or '.join(MEMBER_TTA)}, once or once per model ({members} here), "
                           f"comma-separated; got {','.join(values)!r}")
    return values * members if len(values) == 1 else values


def head_scores(members: list, metadata: ModelMetadata, folder: Path, tta: str | Sequence[str]) -> HeadScores:
    """Both heads' logits of every member on the faces of `folder`: one view per member and TTA view.

    `tta` is one value for every member or one per member (`member_tta`); when only some members are
    mirrored, the others repeat their one view, so that every member still weighs alike.
    """
    per_member = member_tta(tta, len(members))
    classes, split, _ = load_labeled_folder(folder, metadata.preprocessing)
    labels = map_classes_to_labels(classes, metadata.labels)[split.labels]
    original = normalize(split.pixels, metadata.preprocessing)
    mirrored = normalize(split.pixels[:, :, ::-1], metadata.preprocessing) if "mirror" in per_member else None
    views = []
    for heads, tta_of_member in zip(members, per_member):
        own = head_logits(heads, original)
        if mirrored is None:
            views.append(own)
        else:
            views += [own, head_logits(heads, mirrored) if tta_of_member == "mirror" else own]
    return HeadScores(tuple(views), labels, len(members))


def load_members(paths: list[Path]) -> tuple[list, list[ModelMetadata], tuple[str, ...]]:
    """Two-head models with the same labels: (models, their metadata, the second head's labels).

    Raises:
        FerEdgeError: a one-head model, or models whose labels or preprocessing differ.
    """
    loaded = [load_keras_model(path) for path in paths]
    metadata = loaded[0][1]
    aux_labels = tuple(metadata.extra.get("aux_labels", ()))
    for path, (heads, member) in zip(paths, loaded):
        if not member.extra.get("aux_labels") or AUX_HEAD not in [layer.name for layer in heads.layers]:
            raise FerEdgeError(f"{path} is not a two-head model (train with --aux-labels; use its heads.keras)")
        if (member.labels, tuple(member.extra["aux_labels"]), member.preprocessing) != (
                metadata.labels, aux_labels, metadata.preprocessing):
            raise FerEdgeError(f"{path} has other labels or preprocessing than {paths[0]}")
    return [heads for heads, _ in loaded], [member for _, member in loaded], aux_labels


def _fused_metadata(metadata: ModelMetadata, fusion: Fusion, aux_labels, goal: FusionGoal, tta: str,
                    data, aux_data, scored_tta: str | None = None) -> ModelMetadata:
    extra = {key: value for key, value in metadata.extra.items() if key != "aux_labels"}
    extra["fusion"] = {**fusion.to_dict(), "aux_labels": list(aux_labels), "tta": scored_tta or tta,
                       "primary_data": str(data), "aux_data": str(aux_data),
                       "goal": {"aux_min_accuracy": goal.aux_min_accuracy, "aux_min_recall": goal.aux_min_recall}}
    return ModelMetadata(metadata.labels, metadata.preprocessing, metadata.arch, extra, tta=tta)


def fused_model(heads, metadata: ModelMetadata, mapping: np.ndarray, fusion: Fusion):
    """One two-head model fused into a one-output model: in logit space an ordinary model of its
    architecture, in probability space the model with its heads' probabilities mixed."""
    if fusion.space == "probability":
        return mixture_model(heads, mapping, fusion)
    single = build_model(metadata.arch, len(metadata.labels), metadata.preprocessing.input_shape)
    return fuse_heads(heads, single, mapping, fusion)


def _tta_plan(tta: str, members: int) -> tuple[tuple[str, ...], bool, str, str | None]:
    """Each member's TTA; whether it differs between members (then it is built into the ensemble's graph); the TTA
    the saved model records; and the TTA its fusion was scored with, where that differs."""
    per_member_tta = member_tta(tta, members)
    in_graph = len(set(per_member_tta)) > 1
    if in_graph:
        return per_member_tta, True, "none", ",".join(per_member_tta)
    return per_member_tta, False, per_member_tta[0], None


def _ensemble(fused: list, member_metadata: list[ModelMetadata], fusion: Fusion, describe,
              per_member_tta: tuple[str, ...], in_graph: bool):
    """The fused members as one ensemble model; its metadata keeps each member's own training facts."""
    each = [describe(member, fusion.for_member(index), tta=value)
            for index, (member, value) in enumerate(zip(member_metadata, per_member_tta))]
    mirrored = [value == "mirror" for value in per_member_tta] if in_graph else None
    return build_ensemble(fused, each, mirrored=mirrored)


def fuse_heads_file(heads_paths: list[str | Path], data: str | Path, aux_data: str | Path, out: str | Path,
                    goal: FusionGoal = FusionGoal(), tta: str = "mirror", per_member: bool = False,
                    space: str = "probability") -> FuseResult:
    """Fuse the heads of two-head models (`heads.keras` of `fer-edge train --aux-labels`) into one model.

    The fusion maximizes accuracy on `data` (labelled with the primary labels, e.g. FER+ `valid`)
    among those meeting `goal` on `aux_data` (labelled with the aux labels, e.g. FER2013 `val`),
    both scored with test-time augmentation `tta`: one value recorded as the model's TTA, or one per
    model ("none,mirror,mirror") built into the ensemble's graph (a mirrored member gives the mean of
    its two views; the model records no TTA of its own). In `space` "probability" the heads' probabilities
    are mixed (the model keeps both heads); in "logit" one model fuses into an ordinary one-head
    model of the same architecture. Several models (same labels) fuse alike and are saved as their ensemble,
    scored as such; with `per_member` each member gets its own aux weight (every combination of
    weights 0, 0.1, ..., 1 is tried; 1,331 fusions for three members). The fusion and the sweep go
    into the saved model's metadata.

    Raises:
        FerEdgeError: not two-head models, models that differ in labels, data whose classes they lack,
            a bad `tta`, or an `out` that would replace one of the models.
    """
    require_distinct_output(out, paths := [Path(path) for path in heads_paths])
    per_member_tta, in_graph, runtime_tta, scored_tta = _tta_plan(tta, len(paths))
    members, member_metadata, aux_labels = load_members(paths)
    metadata = member_metadata[0]
    mapping = class_mapping(aux_labels, metadata.labels)
    primary, aux = (head_scores(members, metadata, Path(folder), per_member_tta) for folder in (data, aux_data))
    weights = np.linspace(0.0, 1.0, 11 if per_member else 41)  # aux weights tried
    fusion, sweep = choose_fusion(primary, aux, mapping, goal, weights, per_member, space)
    describe = partial(_fused_metadata, aux_labels=aux_labels, goal=goal, data=data, aux_data=aux_data)
    fused_metadata = describe(metadata, fusion, tta=runtime_tta, scored_tta=scored_tta)
    fused = [fused_model(heads, metadata, mapping, fusion.for_member(index)) for index, heads in enumerate(members)]
    model = fused[0]
    if len(fused) > 1:
        model, ensemble_metadata = _ensemble(fused, member_metadata, fusion, describe, per_member_tta, in_graph)
        extra = {**ensemble_metadata.extra, "fusion": fused_metadata.extra["fusion"]}
        fused_metadata = replace(ensemble_metadata, extra=extra, tta=runtime_tta)
    result = FuseResult(fusion, sweep, save_keras_model(model, fused_metadata, Path(out)))
    logger.info("fused heads: aux weight %s, primary accuracy %.4f, aux accuracy %.4f",
                weights_text(fusion.to_dict()), result.chosen["primary_accuracy"], result.chosen["aux_accuracy"])
    return result
