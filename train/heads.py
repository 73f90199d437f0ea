"""Two label sets, two heads: one trunk learns both, and the heads fuse into one classifier.

FER+'s vote labels and FER2013's original labels disagree on a third of the same faces. A model
with one head per label set keeps both. Fused in logit space, a weighted sum of the heads' logits
(plus a per-class bias) is again one linear layer: the fused model has exactly the architecture,
size and speed of a single-head model. Fused in probability space, the heads' probabilities are
mixed with a weight per class (`HeadMixture`, a few hundred operations more per face), which keeps
more of the primary labels' accuracy for the same goal on the second label set.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import keras
import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.labels import canonical_label

logger = logging.getLogger(__name__)

HEAD = "probabilities"
"""Name of the primary output layer (every registered architecture ends with it)."""
AUX_HEAD = "aux_probabilities"
"""Name of the second head's output layer."""
SPACES = ("probability", "logit")
"""Where the heads are fused: mixing their probabilities, or summing their logits into one layer."""


def model_input(model: keras.Model):
    """`model`'s input tensor, bare when it has one: a model built on it takes a bare array without Keras's
    `structure of inputs doesn't match` warning (a list of one input expects a list)."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def with_aux_head(model: keras.Model, num_aux: int) -> keras.Model:
    """`model` with a second softmax head on the features its last layer reads: outputs `{HEAD, AUX_HEAD}`."""
    try:
        head = model.get_layer(HEAD)
    except ValueError:
        raise FerEdgeError(f"architecture {model.name} has no {HEAD!r} output layer for a second head") from None
    features = head.input
    aux = keras.layers.Dense(num_aux, activation="softmax", name=AUX_HEAD)(features)
    return keras.Model(model_input(model), {HEAD: head.output, AUX_HEAD: aux}, name=model.name)


def class_mapping(aux_labels: tuple[str, ...], labels: tuple[str, ...]) -> np.ndarray:
    """(aux classes, classes) 0/1 matrix: aux class i is class j when their names match (`angry` = `anger`).

    Raises:
        FerEdgeError: an aux class has no class of the same name.
    """
    names = [canonical_label(name) for name in labels]
    missing = [name for name in aux_labels if canonical_label(name) not in names]
    if missing:
        raise FerEdgeError(f"second-head classes {missing} are not classes of the model {list(labels)}")
    mapping = np.zeros((len(aux_labels), len(labels)), np.float64)
    for i, name in enumerate(aux_labels):
        mapping[i, names.index(canonical_label(name))] = 1.0
    return mapping


@dataclass(frozen=True)
class Fusion:
    """How the heads are fused.

    `space="logit"`: logits = (1 - aux_weight) * primary + aux_weight * centred aux + bias. The aux
    head's logits are centred (mean over its classes removed), so a class only the primary head has
    (FER+'s contempt) gets an aux logit of 0, the aux head's average.

    `space="probability"`: scores = (1 - aux_weight) * primary probabilities + (aux_weight + bias)
    * aux probabilities, divided by their sum: a mixture in which `bias` gives the aux head more
    say on some classes (a class only the primary head has gets no aux probability).

    An ensemble's members share `aux_weight` unless `member_aux_weights` gives each its own; they
    share `bias` and `space`.
    """

    aux_weight: float = 0.0
    bias: tuple[float, ...] = ()
    member_aux_weights: tuple[float, ...] = ()
    space: str = "logit"

    def __post_init__(self):
        if self.space not in SPACES:
            raise FerEdgeError(f"fusion space {self.space!r} is not one of {list(SPACES)}")

    def weight(self, member: int) -> float:
        """The aux weight of ensemble member `member` (0-based)."""
        return self.member_aux_weights[member] if self.member_aux_weights else self.aux_weight

    def for_member(self, member: int) -> "Fusion":
        """The one-model fusion of member `member`."""
        return Fusion(self.weight(member), self.bias, space=self.space)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        extra = {"member_aux_weights": list(self.member_aux_weights)} if self.member_aux_weights else {}
        return {"space": self.space, "aux_weight": self.aux_weight, "bias": list(self.bias), **extra}


def weights_text(fusion: dict) -> str:
    """A fusion's aux weight(s) for people: `0.55`, or one per member `0.10/0.80/0.90` (from `Fusion.to_dict()`)."""
    return "/".join(f"{w:.2f}" for w in fusion.get("member_aux_weights") or [fusion["aux_weight"]])


def fused_dense(head: tuple[np.ndarray, np.ndarray], aux: tuple[np.ndarray, np.ndarray],
                mapping: np.ndarray, fusion: Fusion) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of the one Dense layer equal to the fused heads."""
    (kernel, bias), (aux_kernel, aux_bias) = head, aux
    aux_kernel = aux_kernel - aux_kernel.mean(axis=1, keepdims=True)
    aux_bias = aux_bias - aux_bias.mean()
    w = fusion.aux_weight
    extra = np.asarray(fusion.bias, np.float64) if fusion.bias else np.zeros(len(bias))
    fused_kernel = (1.0 - w) * kernel + w * aux_kernel @ mapping
    fused_bias = (1.0 - w) * bias + w * aux_bias @ mapping + extra
    return fused_kernel.astype(np.float32), fused_bias.astype(np.float32)


def fuse_heads(heads: keras.Model, single: keras.Model, mapping: np.ndarray, fusion: Fusion) -> keras.Model:
    """Copy the trunk of the two-head model `heads` into `single` (the same architecture with one head)
    and set its head to the fused heads. Returns `single`.

    Raises:
        FerEdgeError: the two models do not share the architecture.
    """
    trunk = [layer for layer in heads.layers if layer.weights and layer.name != AUX_HEAD]
    layers = [layer for layer in single.layers if layer.weights]
    if len(trunk) != len(layers):
        raise FerEdgeError(f"{single.name} has {len(layers)} layers with weights, the two-head model {len(trunk) + 1}")
    for source, layer in zip(trunk, layers):  # the same order; names may differ (auto-named layers)
        if layer.name == HEAD:
            continue
        try:
            layer.set_weights(source.get_weights())
        except ValueError as exc:
            raise FerEdgeError(f"layer {layer.name} does not match the two-head model: {exc}") from exc
    kernel, bias = fused_dense(tuple(heads.get_layer(HEAD).get_weights()),
                               tuple(heads.get_layer(AUX_HEAD).get_weights()), mapping, fusion)
    single.get_layer(HEAD).set_weights([kernel, bias])
    return single


@keras.saving.register_keras_serializable(package="fer_edge")
class HeadMixture(keras.layers.Layer):
    """Mixes two heads' probabilities: primary_weight * primary + aux @ aux_kernel, divided by its sum."""

    def __init__(self, primary_weight: float, aux_kernel, **kwargs):
        super().__init__(**kwargs)
        self.primary_weight = float(primary_weight)
        self.aux_kernel = np.asarray(aux_kernel, np.float32)

    def call(self, primary, aux):
        scores = self.primary_weight * primary + keras.ops.matmul(aux, self.aux_kernel)
        return scores / keras.ops.sum(scores, axis=-1, keepdims=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "primary_weight": self.primary_weight,
                "aux_kernel": self.aux_kernel.tolist()}


def mixture_model(heads: keras.Model, mapping: np.ndarray, fusion: Fusion) -> keras.Model:
    """The two-head model `heads` with one output: its heads' probabilities mixed by `fusion` (probability space)."""
    w = fusion.aux_weight
    extra = np.asarray(fusion.bias, np.float64) if fusion.bias else np.zeros(mapping.shape[1])
    mixture = HeadMixture(1.0 - w, mapping * (w + extra)[np.newaxis, :], name="mixture")
    outputs = mixture(heads.get_layer(HEAD).output, heads.get_layer(AUX_HEAD).output)
    return keras.Model(model_input(heads), outputs, name=heads.name)


def head_logits(heads: keras.Model, inputs: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Pre-softmax outputs of both heads for normalized `inputs`: (primary logits, aux logits)."""
    features_model = keras.Model(model_input(heads), heads.get_layer(HEAD).input)
    features = np.asarray(features_model.predict(inputs, batch_size=batch_size, verbose=0), np.float64)
    logits = []
    for name in (HEAD, AUX_HEAD):
        kernel, bias = heads.get_layer(name).get_weights()
        logits.append(features @ kernel + bias)
    return logits[0], logits[1]


@dataclass(frozen=True)
class HeadScores:
    """Both heads' logits on labelled faces, for each test-time view (the faces, their mirror images).

    Attributes:
        views: one (primary logits, aux logits) pair per view; with several members, member-major
            (every view of the first member, then of the second, ...).
        labels: each face's class index in the fused (primary) label set.
        members: how many ensemble members the views come from.
    """

    views: tuple[tuple[np.ndarray, np.ndarray], ...]
    labels: np.ndarray
    members: int = 1


@dataclass(frozen=True)
class FusionGoal:
    """What the fusion must keep on the aux labels while it maximizes accuracy on the primary labels."""

    aux_min_accuracy: float = 0.0
    aux_min_recall: float = 0.0
    """Every aux class's recall at least this; the per-class bias is raised until it holds."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, classes) logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fused_probabilities(primary: np.ndarray, aux: np.ndarray, mapping: np.ndarray, fusion: Fusion) -> np.ndarray:
    """The fused model's probabilities from both heads' logits (one member, one view)."""
    w = fusion.aux_weight
    extra = np.asarray(fusion.bias) if fusion.bias else 0.0
    if fusion.space == "logit":
        centred = aux - aux.mean(axis=1, keepdims=True)
        return softmax((1.0 - w) * primary + w * centred @ mapping + extra)
    scores = (1.0 - w) * softmax(primary) + (softmax(aux) @ mapping) * (w + extra)
    return scores / scores.sum(axis=1, keepdims=True)


def fused_predictions(scores: HeadScores, mapping: np.ndarray, fusion: Fusion) -> np.ndarray:
    """Predicted fused class of each face (probabilities averaged over the views and members)."""
    per_member = len(scores.views) // scores.members
    total = 0.0
    for index, (primary, aux) in enumerate(scores.views):
        total = total + fused_probabilities(primary, aux, mapping, fusion.for_member(index // per_member))
    return np.asarray(total).argmax(axis=1)


def class_recalls(predicted: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """Recall of each class present in `labels`: {class index: share of its faces predicted as it}."""
    return {int(c): float((predicted[labels == c] == c).mean()) for c in np.unique(labels)}


def _raise_bias(aux: HeadScores, mapping: np.ndarray, weights: tuple[float, ...], goal: FusionGoal,
                space: str, step: float = 0.02, limit: float = 3.0) -> Fusion:
    """Raise the bias of the aux class with the lowest recall until every recall reaches the goal.

    `weights` holds one aux weight shared by every member, or one per member.
    """
    shared, member_weights = (weights[0], ()) if len(weights) == 1 else (float(np.mean(weights)), weights)
    bias = np.zeros(mapping.shape[1])
    while True:
        fusion = Fusion(shared, tuple(float(b) for b in bias), member_weights, space)
        recalls = class_recalls(fused_predictions(aux, mapping, fusion), aux.labels)
        worst = min(recalls, key=recalls.get)
        if recalls[worst] >= goal.aux_min_recall or bias[worst] >= limit:
            return fusion
        bias[worst] += step


def _candidates(weights: np.ndarray, members: int, per_member: bool) -> list[tuple[float, ...]]:
    grid = [float(w) for w in weights]
    if per_member and members > 1:
        return list(itertools.product(grid, repeat=members))
    return [(w,) for w in grid]


def choose_fusion(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, goal: FusionGoal,
                  weights: np.ndarray = np.linspace(0.0, 1.0, 41), per_member: bool = False,
                  space: str = "probability") -> tuple[Fusion, list[dict]]:
    """The fusion with the best primary accuracy among those meeting `goal` on the aux labels.

    The aux weight runs over `weights`, shared by every member, or with `per_member` over every
    combination of one weight per member (len(weights) ** members fusions); for each, the bias of
    the aux class with the lowest recall is raised until every recall meets the goal. Fusions are
    made in `space` (`SPACES`). When none meets the goal, the one with the best sum of both
    accuracies (a warning says so).
    Returns the fusion and the sweep (one row per candidate).
    """
    rows = []
    for candidate in _candidates(weights, primary.members, per_member):
        fusion = _raise_bias(aux, mapping, candidate, goal, space)
        aux_predicted = fused_predictions(aux, mapping, fusion)
        row = {"fusion": fusion, "primary_accuracy": float((fused_predictions(primary, mapping, fusion)
                                                            == primary.labels).mean()),
               "aux_accuracy": float((aux_predicted == aux.labels).mean()),
               "aux_min_recall": min(class_recalls(aux_predicted, aux.labels).values())}
        row["meets_goal"] = (row["aux_accuracy"] >= goal.aux_min_accuracy
                             and row["aux_min_recall"] >= goal.aux_min_recall)
        rows.append(row)
    feasible = [row for row in rows if row["meets_goal"]]
    if feasible:
        best = max(feasible, key=lambda row: row["primary_accuracy"])
    else:
        best = max(rows, key=lambda row: row["primary_accuracy"] + row["aux_accuracy"])
        logger.warning("no fusion meets the goal on the aux labels; taking the best sum of both accuracies")
    table = [{**row, "fusion": row["fusion"].to_dict()} for row in rows]
    return best["fusion"], table
