"""Mirror the unsure faces only: accuracy and share of faces mirrored for each `mirror-unsure` threshold.

    .venv/bin/python benchmarks/tta_threshold.py --model default --json docs/default-model/tta-threshold.json

On FER+ `valid` (majority labels) and FER2013 `val` (original labels), the model as it is ("none"), every face
mirror-averaged ("mirror"), and the faces whose highest probability is under each threshold ("mirror-unsure"),
the same predictions the runtime's classifiers make. The threshold chosen is the lowest (the fewest faces
mirrored) at which both splits' accuracy and FER2013's lowest class recall are at least what mirroring every
face gives.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import report_labels
from fer_edge.model_files import load_classifier

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.40, 0.96, 0.05))


def views(classifier, folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities of every face and of its mirror image, and each face's label index in the model's labels."""
    classes, split, _ = load_labeled_folder(folder, classifier.metadata.preprocessing)
    truth = report_labels(classes, classifier.metadata.labels)[1][split.labels]
    return classifier.predict_pixels(split.pixels), classifier.predict_pixels(split.pixels[:, :, ::-1]), truth


def scores(probabilities: np.ndarray, truth: np.ndarray, mirrored: float) -> dict:
    """Accuracy, the lowest recall over the classes the faces have, and the share of faces mirrored."""
    predicted = probabilities.argmax(axis=1)
    recalls = [float((predicted[truth == c] == c).mean()) for c in np.unique(truth)]
    return {"accuracy": float((predicted == truth).mean()), "lowest_recall": min(recalls), "mirrored": mirrored}


def sweep(face: np.ndarray, mirror: np.ndarray, truth: np.ndarray) -> dict:
    """Scores without TTA, with every face mirrored, and mirror-unsure at each of `THRESHOLDS`."""
    both = (face + mirror) / 2.0
    rows = {"none": scores(face, truth, 0.0), "mirror": scores(both, truth, 1.0)}
    for threshold in THRESHOLDS:
        unsure = face.max(axis=1) < threshold
        rows[f"{threshold:.2f}"] = scores(np.where(unsure[:, None], both, face), truth, float(unsure.mean()))
    return rows


def choose(ferplus: dict, fer2013: dict) -> str | None:
    """The lowest threshold that keeps both accuracies and FER2013's lowest recall at mirror's, else None."""
    def keeps(threshold: str) -> bool:
        return (ferplus[threshold]["accuracy"] >= ferplus["mirror"]["accuracy"]
                and fer2013[threshold]["accuracy"] >= fer2013["mirror"]["accuracy"]
                and fer2013[threshold]["lowest_recall"] >= fer2013["mirror"]["lowest_recall"])
    return next((f"{threshold:.2f}" for threshold in THRESHOLDS if keeps(f"{threshold:.2f}")), None)


def held_out(views: dict[str, tuple], seeds: int) -> list[dict]:
    """The threshold chosen on one half of each split's faces and scored on the other, both ways, per seed: how
    the chosen threshold does on faces it was not chosen on, against mirroring every one of them."""
    rows = []
    for seed in range(seeds):
        halves = {name: np.array_split(np.random.default_rng(seed).permutation(len(truth)), 2)
                  for name, (_, _, truth) in views.items()}
        for fit in (0, 1):
            def part(name: str, half: int) -> dict:
                face, mirror, truth = views[name]
                index = halves[name][half]
                return sweep(face[index], mirror[index], truth[index])
            chosen = choose(part("ferplus_valid", fit), part("fer2013_val", fit))
            scored = {name: part(name, 1 - fit) for name in views}
            rows.append({"seed": seed, "fit_half": fit, "chosen": chosen, **{
                name: {"chosen": row[chosen] if chosen else None, "mirror": row["mirror"]}
                for name, row in scored.items()}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a .tflite or .keras model, or a shipped one")
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--holdout", type=int, default=0, metavar="SEEDS",
                        help="also choose on one half of the faces and score on the other, for SEEDS random halvings")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folders = {"ferplus_valid": args.data / "ferplus" / "valid", "fer2013_val": args.data / "fer2013" / "val"}
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        parser.error(f"no {', '.join(missing)}: --data must be the shared data folder")
    classifier = load_classifier(args.model, tta="none")
    scores = {name: views(classifier, folder) for name, folder in folders.items()}
    result = {"model": args.model, **{name: sweep(*scored) for name, scored in scores.items()}}
    result["chosen"] = choose(result["ferplus_valid"], result["fer2013_val"])
    if args.holdout:
        result["held_out"] = held_out(scores, args.holdout)
    for row in result["ferplus_valid"]:
        ferplus, fer2013 = result["ferplus_valid"][row], result["fer2013_val"][row]
        print(f"{row:>7}  FER+ {ferplus['accuracy']:.4f} ({ferplus['mirrored']:.0%} mirrored)  FER2013 "
              f"{fer2013['accuracy']:.4f}, lowest recall {fer2013['lowest_recall']:.3f} ({fer2013['mirrored']:.0%})")
    print(f"chosen: {result['chosen']}")
    for row in (row for row in result.get("held_out", []) if row["chosen"]):
        gaps = ", ".join(f"{name} {row[name]['chosen']['accuracy'] - row[name]['mirror']['accuracy']:+.4f}"
                         for name in folders)
        print(f"held out (seed {row['seed']}, chosen on half {row['fit_half']}): {row['chosen']}; against mirroring "
              f"every face: {gaps}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
