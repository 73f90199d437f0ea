"""The most any classifier can score on FER+ `valid` while it meets goals on FER2013 `val`'s labels of the same faces.

FER+ relabelled the FER2013 faces, and the two label sets disagree on a third of them, so a model
cannot be right on both for those faces. Picture a classifier that knows both labels of every face:
it answers the FER+ label, and switches to the FER2013 label on as few disagreeing faces as it
must to meet the FER2013 goals (overall accuracy, and every class's recall). Each switch loses
exactly one FER+ face and gains one FER2013 face, so the fewest switches give the ceiling:
switches = max(sum over classes of the recall shortfall, the overall shortfall). FER2013 faces that
FER+ dropped (no majority, or not a face) are answered with their FER2013 label for free.

    .venv/bin/python benchmarks/label_ceiling.py --json docs/label-ceiling.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from fer_edge.native_logs import quiet_native_libraries

quiet_native_libraries()  # before fer_edge.train imports TensorFlow: its C++ start-up lines off, as in the CLI

from fer_edge.dataset import load_labeled_folder  # noqa: E402
from fer_edge.labels import canonical_label  # noqa: E402
from fer_edge.preprocess import Preprocessing  # noqa: E402
from fer_edge.train.targets import match_faces  # noqa: E402

GRAY48 = Preprocessing((48, 48), color_mode="grayscale")


def paired_labels(ferplus: Path, fer2013: Path) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """For each FER2013 face: its FER2013 class and its FER+ majority class ('' when FER+ lacks it), by name."""
    plus_classes, plus, _ = load_labeled_folder(ferplus, GRAY48)
    fer_classes, fer, _ = load_labeled_folder(fer2013, GRAY48)
    names = [canonical_label(name) for name in fer_classes]
    plus_names = np.array([canonical_label(name) for name in plus_classes])
    match = match_faces(plus.pixels, fer.pixels)
    ferplus_of = np.full(len(fer), "", dtype=object)
    for face in np.flatnonzero(match.matched)[::-1]:  # the first FER+ face wins when two match one
        ferplus_of[match.index[face]] = plus_names[plus.labels[face]]
    return np.array(names, dtype=object)[fer.labels], ferplus_of, names, len(plus)


def ceiling(fer_labels: np.ndarray, ferplus_labels: np.ndarray, classes: list[str], ferplus_faces: int,
            min_accuracy: float, min_recall: float) -> dict:
    """The fewest switches to FER2013 labels that meet the goals, and the FER+ accuracy left."""
    known = ferplus_labels != ""
    base = (~known) | (ferplus_labels == fer_labels)  # FER2013-correct before any switch
    shortfall, per_class = 0, {}
    for name in classes:
        of_class = fer_labels == name
        # never more than the class's disagreeing faces: ceil(min_recall * n) <= n
        needed = max(0, math.ceil(min_recall * of_class.sum() - 1e-9) - int(base[of_class].sum()))
        per_class[name] = {"faces": int(of_class.sum()), "recall_answering_ferplus": float(base[of_class].mean()),
                           "switches": needed}
        shortfall += needed
    overall = math.ceil(min_accuracy * len(fer_labels) - 1e-9) - int(base.sum())
    switches = max(shortfall, overall, 0)
    return {"switches": int(switches), "ferplus_ceiling": 1.0 - switches / ferplus_faces,
            "fer2013_answering_ferplus": float(base.mean()), "per_class": per_class}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ferplus", type=Path, default=Path("../shared/data/ferplus/valid"))
    parser.add_argument("--fer2013", type=Path, default=Path("../shared/data/fer2013/val"))
    parser.add_argument("--min-accuracy", type=float, default=0.6347, help="fer's FER2013 val accuracy")
    parser.add_argument("--min-recall", type=float, default=0.30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    fer_labels, ferplus_labels, classes, ferplus_faces = paired_labels(args.ferplus, args.fer2013)
    known = ferplus_labels != ""
    result = {"fer2013_faces": len(fer_labels), "ferplus_faces": ferplus_faces, "paired": int(known.sum()),
              "agreement_on_paired": float((ferplus_labels[known] == fer_labels[known]).mean()),
              "goal": {"min_accuracy": args.min_accuracy, "min_recall": args.min_recall},
              **ceiling(fer_labels, ferplus_labels, classes, ferplus_faces, args.min_accuracy, args.min_recall)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
