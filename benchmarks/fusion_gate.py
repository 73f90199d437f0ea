"""Would the fusion gain if the FER2013 head answered the faces FER+ leaves unscored? A confidence gate, and its oracle.

FER+ `valid` scores only faces with a majority label; 360 of FER2013 `val`'s 3,266 faces have none there
(or are not faces to FER+'s annotators) and count on FER2013 alone, so on them the FER2013 head could answer
at no cost on FER+. The FER+ head's confidence (its highest probability) hints which faces those are: the
gate scales the FER+ head's share of the mixture by sigmoid(sharpness x (confidence - threshold)). The
oracle gate knows which FER2013 faces FER+ lacks (no FER+ share there, the full share elsewhere): the most
any such gate could buy. Heads' probabilities are averaged over the views (mirror) before they are mixed;
each gate is swept as `fer-edge fuse-heads` sweeps (aux weight 0 to 1, the worst class's bias raised until
every recall meets the goal) and scored on the faces it was chosen on.

    .venv/bin/python benchmarks/fusion_gate.py runs/default-soup.keras --json docs/default-model/fusion-gate.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fer_edge.native_logs import quiet_native_libraries

quiet_native_libraries()  # before fer_edge.train imports TensorFlow: its C++ start-up lines off, as in the CLI

from fer_edge.dataset import load_labeled_folder  # noqa: E402
from fer_edge.train.fuse import head_scores, load_members  # noqa: E402
from fer_edge.train.heads import FusionGoal, HeadScores, class_mapping, class_recalls, softmax  # noqa: E402
from fer_edge.train.targets import match_faces  # noqa: E402

GOALS = {"shipped": FusionGoal(0.643, 0.35), "bars": FusionGoal(0.6347, 0.30)}
"""The default's goal (a margin for int8) and the issue's bars on FER2013 `val`."""
THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
SHARPNESS = (10.0, 30.0)


def mean_probabilities(scores: HeadScores) -> tuple[np.ndarray, np.ndarray]:
    """Each head's probabilities averaged over every view (and member)."""
    primary = np.mean([softmax(p) for p, _ in scores.views], axis=0)
    aux = np.mean([softmax(a) for _, a in scores.views], axis=0)
    return primary, aux


def confidence_gate(primary: np.ndarray, threshold: float, sharpness: float) -> np.ndarray:
    """sigmoid(sharpness x (highest primary probability - threshold)) per face."""
    return 1.0 / (1.0 + np.exp(-sharpness * (primary.max(axis=1) - threshold)))


def gated_predictions(primary: np.ndarray, aux: np.ndarray, mapping: np.ndarray, weight: float, bias: np.ndarray,
                      gate: np.ndarray) -> np.ndarray:
    """arg-max of (1 - weight) x gate x primary + (weight + bias) x aux (mapped to the primary classes)."""
    return ((1.0 - weight) * gate[:, None] * primary + (aux @ mapping) * (weight + bias)).argmax(axis=1)


def raised_bias(aux_faces: tuple, mapping: np.ndarray, weight: float, goal: FusionGoal,
                step: float = 0.02, limit: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Raise the bias of the aux class with the lowest recall until every recall meets the goal: (bias, predictions).

    `aux_faces` is (primary probabilities, aux probabilities, gate, aux labels) on the aux label set's faces.
    """
    primary, aux, gate, labels = aux_faces
    bias = np.zeros(mapping.shape[1])
    while True:
        predicted = gated_predictions(primary, aux, mapping, weight, bias, gate)
        recalls = class_recalls(predicted, labels)
        worst = min(recalls, key=recalls.get)
        if recalls[worst] >= goal.aux_min_recall or bias[worst] >= limit:
            return bias, predicted
        bias[worst] += step


def best_fusion(primary_faces: tuple, aux_faces: tuple, mapping: np.ndarray, goal: FusionGoal) -> dict | None:
    """The most accurate gated fusion on the primary faces among those meeting `goal` on the aux faces (None: none).

    Each of `primary_faces` and `aux_faces` is (primary probabilities, aux probabilities, gate, labels).
    """
    best = None
    for weight in np.linspace(0.0, 1.0, 41):
        bias, predicted = raised_bias(aux_faces, mapping, float(weight), goal)
        aux_accuracy = float((predicted == aux_faces[3]).mean())
        lowest_recall = min(class_recalls(predicted, aux_faces[3]).values())
        if aux_accuracy < goal.aux_min_accuracy or lowest_recall < goal.aux_min_recall:
            continue
        primary, aux, gate, labels = primary_faces
        accuracy = float((gated_predictions(primary, aux, mapping, float(weight), bias, gate) == labels).mean())
        if best is None or accuracy > best["primary_accuracy"]:
            best = {"primary_accuracy": accuracy, "aux_accuracy": aux_accuracy, "aux_weight": float(weight),
                    "bias": [round(float(b), 2) for b in bias]}
    return best


def unscored_faces(data: Path, aux_data: Path, preprocessing) -> np.ndarray:
    """Mask of the `aux_data` faces that no face of `data` matches (by pixels): FER2013 faces FER+ does not score."""
    _, scored, _ = load_labeled_folder(data, preprocessing)
    _, aux, _ = load_labeled_folder(aux_data, preprocessing)
    match = match_faces(scored.pixels, aux.pixels)
    unscored = np.ones(len(aux), bool)
    unscored[match.index[match.matched]] = False
    return unscored


def heads_alone(primary: HeadScores, aux: HeadScores, mapping: np.ndarray) -> dict:
    """Each head alone (its probabilities' arg-max): accuracy on both label sets and every aux class's recall."""
    result = {}
    for name, column in (("primary_head", 0), ("aux_head", 1)):
        predicted = []
        for scores in (primary, aux):
            probabilities = mean_probabilities(scores)[column]
            predicted.append((probabilities @ mapping if column else probabilities).argmax(axis=1))
        result[name] = {"primary_accuracy": float((predicted[0] == primary.labels).mean()),
                        "aux_accuracy": float((predicted[1] == aux.labels).mean()),
                        "aux_recalls": {str(c): r for c, r in class_recalls(predicted[1], aux.labels).items()}}
    return result


def gate_table(primary: HeadScores, aux: HeadScores, mapping: np.ndarray, unscored: np.ndarray) -> dict:
    """For each goal: no gate, every confidence gate of the grid, and the oracle gate."""
    p_plus, a_plus = mean_probabilities(primary)
    p_fer, a_fer = mean_probabilities(aux)
    gates = {"none": (np.ones(len(p_plus)), np.ones(len(p_fer))),
             "oracle": (np.ones(len(p_plus)), (~unscored).astype(float))}
    for threshold in THRESHOLDS:
        for sharpness in SHARPNESS:
            gates[f"confidence>{threshold} x{sharpness:g}"] = (confidence_gate(p_plus, threshold, sharpness),
                                                               confidence_gate(p_fer, threshold, sharpness))
    table = {}
    for goal_name, goal in GOALS.items():
        table[goal_name] = {name: best_fusion((p_plus, a_plus, plus_gate, primary.labels),
                                              (p_fer, a_fer, fer_gate, aux.labels), mapping, goal)
                            for name, (plus_gate, fer_gate) in gates.items()}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("heads", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ferplus/valid"))
    parser.add_argument("--aux-data", type=Path, default=Path("../shared/data/fer2013/val"))
    parser.add_argument("--tta", default="mirror")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    members, metadata, aux_labels = load_members(args.heads)
    mapping = class_mapping(aux_labels, metadata[0].labels)
    primary, aux = (head_scores(members, metadata[0], folder, args.tta) for folder in (args.data, args.aux_data))
    unscored = unscored_faces(args.data, args.aux_data, metadata[0].preprocessing)
    result = {"heads": [str(h) for h in args.heads], "tta": args.tta, "unscored_aux_faces": int(unscored.sum()),
              "goals": {name: vars(goal) for name, goal in GOALS.items()}, "labels": list(metadata[0].labels),
              "heads_alone": heads_alone(primary, aux, mapping),
              "best": gate_table(primary, aux, mapping, unscored)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
