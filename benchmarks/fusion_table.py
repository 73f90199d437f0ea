"""Every subset of two-head models, fused under each goal, in each space, with and without mirror TTA: one table.

Reads FER+ `valid` and FER2013 `val` once and scores every model's heads on them, then runs `fer-edge fuse-heads`'s
choice (one shared aux weight, per-class bias for the recalls) for every subset and setting, in logit and in
probability space.
Figures are float Keras, chosen and scored on the same faces (optimistic; see fusion_holdout.py).

    .venv/bin/python benchmarks/fusion_table.py wide=runs/two-head-wide/heads.keras \\
        e48=docs/accurate-model/candidate-e48/heads.keras def=docs/default-model/two-head/heads.keras \\
        --json docs/wide-experiment/fusion-table.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from fer_edge.native_logs import quiet_native_libraries

quiet_native_libraries()  # before fer_edge.train imports TensorFlow: its C++ start-up lines off, as in the CLI

from fer_edge.train.fuse import head_scores, load_members  # noqa: E402
from fer_edge.train.heads import SPACES, FusionGoal, HeadScores, choose_fusion, class_mapping  # noqa: E402

GOALS = (FusionGoal(0.643, 0.35), FusionGoal(0.636, 0.30))
"""The default's goal and a looser one; `--goal` sets others (the accurate model's: 0.64,0.335)."""


def parse_goal(text: str) -> FusionGoal:
    """`ACCURACY,RECALL` (e.g. `0.64,0.335`) as a FusionGoal; argparse reports a ValueError as a usage error."""
    accuracy, recall = (float(part) for part in text.split(","))
    if not (0 <= accuracy <= 1 and 0 <= recall <= 1):
        raise ValueError(f"goal {text!r}: both numbers must lie in [0, 1]")
    return FusionGoal(accuracy, recall)


def members_scores(scores: dict[str, HeadScores], names: tuple[str, ...], views: int) -> HeadScores:
    """The scores of the models `names` as one ensemble, with their first `views` TTA views."""
    chosen = [scores[name] for name in names]
    return HeadScores(tuple(view for s in chosen for view in s.views[:views]), chosen[0].labels, len(chosen))


def per_member(scores: HeadScores, names: list[str]) -> dict[str, HeadScores]:
    """An ensemble's scores (member-major views) as one HeadScores per member, by name."""
    views = len(scores.views) // scores.members
    return {name: HeadScores(scores.views[i * views:(i + 1) * views], scores.labels)
            for i, name in enumerate(names)}


def table(primary: dict, aux: dict, mapping: np.ndarray, goals: tuple[FusionGoal, ...] = GOALS) -> list[dict]:
    """One row per subset, TTA, goal and fusion space: the chosen fusion and its accuracies."""
    rows = []
    for size in range(1, len(primary) + 1):
        for names in itertools.combinations(primary, size):
            for views, tta in ((1, "none"), (2, "mirror")):
                p, a = members_scores(primary, names, views), members_scores(aux, names, views)
                for goal, space in itertools.product(goals, SPACES):
                    fusion, sweep = choose_fusion(p, a, mapping, goal, space=space)
                    row = next(r for r in sweep if r["fusion"] == fusion.to_dict())
                    rows.append({"members": list(names), "tta": tta, "goal": vars(goal), "space": space, **row})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("heads", nargs="+", help="NAME=PATH of a heads.keras")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ferplus/valid"))
    parser.add_argument("--aux-data", type=Path, default=Path("../shared/data/fer2013/val"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--goal", type=parse_goal, action="append", metavar="ACCURACY,RECALL",
                        help="FER2013 val accuracy and lowest recall to meet (repeat it; default: "
                             + ", ".join(f"{g.aux_min_accuracy},{g.aux_min_recall}" for g in GOALS) + ")")
    args = parser.parse_args()
    named = dict(item.split("=", 1) for item in args.heads)
    members, metadata, aux_labels = load_members([Path(path) for path in named.values()])
    mapping = class_mapping(aux_labels, metadata[0].labels)
    primary, aux = (per_member(head_scores(members, metadata[0], folder, "mirror"), list(named))
                    for folder in (args.data, args.aux_data))
    rows = table(primary, aux, mapping, tuple(args.goal or GOALS))
    for row in rows:
        print(f"{'+'.join(row['members']):16s} {row['tta']:6s} {row['space']:11s} goal {row['goal']['aux_min_accuracy']:.3f}/"
              f"{row['goal']['aux_min_recall']:.3f}  FER+ {row['primary_accuracy']:.4f}  FER2013 {row['aux_accuracy']:.4f}"
              f"  meets {row['meets_goal']}  w {row['fusion']['aux_weight']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"heads": named, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
