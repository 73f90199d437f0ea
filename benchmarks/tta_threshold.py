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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a .tflite or .keras model, or a shipped one")
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folders = {"ferplus_valid": args.data / "ferplus" / "valid", "fer2013_val": args.data / "fer2013" / "val"}
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        parser.error(f"no {', '.join(missing)}: --data must be the shared data folder")
    classifier = load_classifier(args.model, tta="none")
    result = {"model": args.model, **{name: sweep(*views(classifier, folder)) for name, folder in folders.items()}}
    result["chosen"] = choose(result["ferplus_valid"], result["fer2013_val"])
    for row in result["ferplus_valid"]:
        ferplus, fer2013 = result["ferplus_valid"][row], result["fer2013_val"][row]
        print(f"{row:>7}  FER+ {ferplus['accuracy']:.4f} ({ferplus['mirrored']:.0%} mirrored)  FER2013 "
              f"{fer2013['accuracy']:.4f}, lowest recall {fer2013['lowest_recall']:.3f} ({fer2013['mirrored']:.0%})")
    print(f"chosen: {result['chosen']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
