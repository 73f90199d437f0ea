"""Does a fusion chosen on some faces hold on others? Logit against probability space, shared against per-member
aux weights, fixed against chosen head temperatures, on held-out halves.

`fer-edge fuse-heads` chooses the fusion on FER+ `valid` and FER2013 `val` and is reported on the
same faces, so its figures are optimistic; more free parameters (one weight per member) are more
so. This splits both sets into random halves, chooses each way on one half and scores the other,
for each seed and both halves. The `probability_temperature` way also chooses a temperature for each
head (its logits divided by it before the softmax, from `TEMPERATURES`; 16 pairs), to test whether
calibrating the heads against each other moves the trade-off between the label sets. The
`probability_class_bias` way reaches the aux accuracy goal by raising the aux head's say on single classes
(`trade_biases`) where a lower shared aux weight falls short, instead of by the shared weight alone.

    .venv/bin/python benchmarks/fusion_holdout.py docs/wide-experiment/final/heads.keras \\
        docs/default-model/two-head/heads.keras --aux-min-accuracy 0.643 --aux-min-recall 0.35 --seeds 3 \\
        --ways logit,probability --json docs/wide-experiment/fusion-holdout-wide-def.json

`--tta none` scores every member without the mirror view (default: mirror); one value per member
(`--tta none,none,mirror`) mirrors only some, each member still weighing as much as the others, which
is what a model that mirrors inside its graph for those members alone would compute. `--tta every` scores
the faces once and reports every per-member combination (held out and on the same faces), as `masks`.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from fer_edge.native_logs import quiet_native_libraries

quiet_native_libraries()  # before fer_edge.train imports TensorFlow: its C++ start-up lines off, as in the CLI

from fer_edge.errors import FerEdgeError  # noqa: E402
from fer_edge.train.fuse import head_scores, load_members, member_tta  # noqa: E402
from fer_edge.train.heads import (Fusion, FusionGoal, HeadScores, choose_fusion, class_mapping,  # noqa: E402
                                  fused_predictions)


def subset(scores: HeadScores, index: np.ndarray) -> HeadScores:
    """The same scores for the faces at `index`."""
    views = tuple((primary[index], aux[index]) for primary, aux in scores.views)
    return HeadScores(views, scores.labels[index], scores.members)


def score(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, fusion) -> dict:
    """Accuracy on both label sets and the lowest aux recall of `fusion`."""
    predicted = fused_predictions(aux, mapping, fusion)
    recalls = [float((predicted[aux.labels == c] == c).mean()) for c in np.unique(aux.labels)]
    return {"primary_accuracy": float((fused_predictions(primary, mapping, fusion) == primary.labels).mean()),
            "aux_accuracy": float((predicted == aux.labels).mean()), "aux_min_recall": min(recalls)}


WAYS = {"logit": ("logit", False, False, False), "probability": ("probability", False, False, False),
        "logit_per_member": ("logit", True, False, False), "probability_per_member": ("probability", True, False, False),
        "probability_temperature": ("probability", False, True, False),
        "probability_class_bias": ("probability", False, False, True)}
"""Ways of choosing a fusion: (space, one aux weight per member, a temperature per head, aux biases traded
class by class for the aux accuracy goal, `trade_biases`)."""

BIAS_RAISES = (0.04, 0.08, 0.16, 0.32, 0.64)
"""The raises of one class's aux bias `trade_biases` weighs at each step (a small one may flip no face)."""

TEMPERATURES = (0.5, 0.7, 1.0, 1.4)
"""Temperatures tried for each head by the `probability_temperature` way."""


def tempered(scores: HeadScores, temperatures: tuple[float, float]) -> HeadScores:
    """The scores with each head's logits divided by its temperature (primary, aux)."""
    primary_t, aux_t = temperatures
    return HeadScores(tuple((p / primary_t, a / aux_t) for p, a in scores.views), scores.labels, scores.members)


def trade_biases(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, goal: FusionGoal,
                 fusion: Fusion, limit: float = 3.0) -> tuple[Fusion, dict]:
    """Raise one aux class's bias at a time, the one that buys the most aux accuracy per point of primary
    accuracy lost (every aux recall kept at the goal), until the aux accuracy meets the goal or no raise
    helps: (the fusion, its scores)."""
    current = score(primary, aux, mapping, fusion)
    while current["aux_accuracy"] < goal.aux_min_accuracy:
        best = None
        for label, raise_by in itertools.product(np.flatnonzero(mapping.any(axis=0)), BIAS_RAISES):
            bias = np.array(fusion.bias)  # the classes the aux head has, each raised by one of BIAS_RAISES
            bias[label] += raise_by
            trial = replace(fusion, bias=tuple(float(b) for b in bias))
            scores = score(primary, aux, mapping, trial)
            gain = scores["aux_accuracy"] - current["aux_accuracy"]
            if bias[label] > limit or gain <= 0 or scores["aux_min_recall"] < goal.aux_min_recall:
                continue
            rate = gain / max(current["primary_accuracy"] - scores["primary_accuracy"], 1e-4)
            if best is None or rate > best[0]:
                best = (rate, trial, scores)
        if best is None:
            break
        _, fusion, current = best
    return fusion, current


def _with_traded_biases(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, goal: FusionGoal,
                        sweep: list[dict]) -> tuple[Fusion, dict]:
    """The best fusion of a sweep once each row short of the aux accuracy goal has traded its biases."""
    best = None
    for row in sweep:
        fusion = Fusion(row["fusion"]["aux_weight"], tuple(row["fusion"]["bias"]), space=row["fusion"]["space"])
        fusion, scores = trade_biases(primary, aux, mapping, goal, fusion) if not row["meets_goal"] else (fusion, row)
        meets = scores["aux_accuracy"] >= goal.aux_min_accuracy and scores["aux_min_recall"] >= goal.aux_min_recall
        scores = {**scores, "meets_goal": meets}
        if best is None or (meets, scores["primary_accuracy"]) > (best[1]["meets_goal"], best[1]["primary_accuracy"]):
            best = (fusion, scores)
    return best


def choose(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, goal: FusionGoal, way: str):
    """The fusion `way` chooses: (fusion, head temperatures, its sweep row)."""
    space, per_member, temperature, class_bias = WAYS[way]
    weights = np.linspace(0, 1, 11 if per_member or class_bias else 41)
    best = None
    for pair in itertools.product(TEMPERATURES, repeat=2) if temperature else [(1.0, 1.0)]:
        fusion, sweep = choose_fusion(tempered(primary, pair), tempered(aux, pair), mapping, goal, weights,
                                      per_member, space)
        if class_bias:
            fusion, row = _with_traded_biases(primary, aux, mapping, goal, sweep)
        else:
            row = next(row for row in sweep if row["fusion"] == fusion.to_dict())
        if best is None or (row["meets_goal"], row["primary_accuracy"]) > (best[2]["meets_goal"],
                                                                           best[2]["primary_accuracy"]):
            best = (fusion, pair, row)
    return best


def holdout(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, goal: FusionGoal, seed: int,
            ways: list[str]) -> list[dict]:
    """Each way of choosing (`WAYS`), fitted on each half and scored on the other."""
    rng = np.random.default_rng(seed)
    p, a = rng.permutation(len(primary.labels)), rng.permutation(len(aux.labels))
    halves = [(p[: len(p) // 2], a[: len(a) // 2]), (p[len(p) // 2:], a[len(a) // 2:])]
    rows = []
    for fit in (0, 1):
        (p_fit, a_fit), (p_test, a_test) = halves[fit], halves[1 - fit]
        for way in ways:
            fusion, pair, fitted = choose(subset(primary, p_fit), subset(aux, a_fit), mapping, goal, way)
            held = score(tempered(subset(primary, p_test), pair), tempered(subset(aux, a_test), pair), mapping, fusion)
            rows.append({"seed": seed, "fit_half": fit, "way": way, "fusion": fusion.to_dict(), "temperatures": pair,
                         "fit": {k: fitted[k] for k in ("primary_accuracy", "aux_accuracy", "aux_min_recall")},
                         "held_out": held})
    return rows


def with_member_tta(scores: HeadScores, tta: tuple[str, ...]) -> HeadScores:
    """Scores of mirrored members (two views each) as `tta` would have them: a "none" member repeats its own view."""
    views = []
    for member, tta_of_member in enumerate(tta):
        own, mirrored = scores.views[2 * member], scores.views[2 * member + 1]
        views += [own, mirrored if tta_of_member == "mirror" else own]
    return HeadScores(tuple(views), scores.labels, scores.members)


def every_member_tta(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, goal: FusionGoal,
                     seeds: int) -> dict:
    """Each per-member TTA combination's held-out and same-faces figures (probability space), by its name."""
    masks = {}
    for tta in itertools.product(("none", "mirror"), repeat=primary.members):
        p, a = with_member_tta(primary, tta), with_member_tta(aux, tta)
        rows = [row for seed in range(1, seeds + 1) for row in holdout(p, a, mapping, goal, seed, ["probability"])]
        _, _, same = choose(p, a, mapping, goal, "probability")
        masks[",".join(tta)] = {"held_out": summarize(rows, ["probability"])["probability"],
                                "same_faces": {k: same[k] for k in ("primary_accuracy", "aux_accuracy",
                                                                    "aux_min_recall", "meets_goal")},
                                "runs": rows}
    return masks


def summarize(rows: list[dict], ways: list[str]) -> dict:
    """Each way's held-out accuracies and lowest aux recall, averaged over seeds and halves."""
    return {way: {key: float(np.mean([row["held_out"][key] for row in rows if row["way"] == way]))
                  for key in ("primary_accuracy", "aux_accuracy", "aux_min_recall")} for way in ways}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options; an unknown way or TTA ends the run before the minutes of scoring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("heads", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ferplus/valid"))
    parser.add_argument("--aux-data", type=Path, default=Path("../shared/data/fer2013/val"))
    parser.add_argument("--aux-min-accuracy", type=float, default=0.636)
    parser.add_argument("--aux-min-recall", type=float, default=0.30)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--ways", default="logit,probability",
                        help=f"comma-separated ways of choosing, of {list(WAYS)}")
    parser.add_argument("--tta", default="mirror",
                        help="none or mirror for every member (default: mirror), one of them per member, comma-separated, "
                             "or every (each per-member combination, probability space)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.ways = args.ways.split(",")
    unknown = [way for way in args.ways if way not in WAYS]
    if unknown:
        parser.error(f"unknown ways {unknown}; choose from {list(WAYS)}")
    try:
        args.tta = "every" if args.tta == "every" else member_tta(args.tta, len(args.heads))
    except FerEdgeError as error:
        parser.error(str(error))
    return args


def main() -> None:
    args = parse_args()
    members, metadata, aux_labels = load_members(args.heads)
    mapping = class_mapping(aux_labels, metadata[0].labels)
    scored_tta = "mirror" if args.tta == "every" else args.tta
    primary, aux = (head_scores(members, metadata[0], folder, scored_tta) for folder in (args.data, args.aux_data))
    goal = FusionGoal(args.aux_min_accuracy, args.aux_min_recall)
    if args.tta == "every":
        masks = every_member_tta(primary, aux, mapping, goal, args.seeds)
        print(json.dumps({name: {k: mask[k] for k in ("held_out", "same_faces")} for name, mask in masks.items()},
                         indent=2))
        if args.json:
            args.json.write_text(json.dumps({"heads": [str(h) for h in args.heads], "goal": vars(goal),
                                             "masks": masks}, indent=2) + "\n")
        return
    rows = [row for seed in range(1, args.seeds + 1) for row in holdout(primary, aux, mapping, goal, seed, args.ways)]
    summary = summarize(rows, args.ways)
    result = {"heads": [str(h) for h in args.heads], "goal": vars(goal),
              "tta": args.tta[0] if len(set(args.tta)) == 1 else list(args.tta),
              "summary_held_out": summary, "runs": rows}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
