"""The accuracy and latency bars of both shipped models, every one measured against `fer` side by side in one run.

    .venv/bin/python benchmarks/bars.py --json docs/bench/bars.json     (`make bars`; about a minute here)

Accuracy as shipped (int8 with each model's recorded test-time augmentation; `fer` as it ships) on FER+
`valid` (majority labels) and FER2013 `val` (original labels; a class a model lacks, contempt for `fer` on
FER+, counts as wrong; the lowest recall is over the classes the split has); end to end on the photos
(photos_e2e.py's pipelines: YuNet, the largest face, the model's framing, against `fer`'s own default
pipeline; no face counts as wrong); int8 against float on FER+ `valid` without TTA (the default's shipped fp32
file; the accurate model ships no float file, so its float figure is the one its conversion recorded unless
--accurate-float names the Keras model `make accurate-model` leaves in runs/); and the classifier's mean time a
face on single FER+ `valid` faces drawn at random, one interpreter thread, interleaved so machine noise hits every
model alike (the mean, because a default that mirrors only the faces it is unsure of takes one of two times and its
median is the shorter; median and 90th percentile are in the JSON). Prints a checklist; exits with status 1 when a
bar is missed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classifier_latency import time_interleaved, timed_faces
from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import evaluate_classifier
from fer_edge.host import host_info
from fer_edge.model_files import load_classifier, resolve_model
from fer_edge.peers import fer_peer
from fer_edge.tta import apply_tta, tta_of
from photos_e2e import class_indices, fer_predictions, largest_faces, our_predictions

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA_PARTS = ("ferplus/valid", "fer2013/val", "photos")
"""What the bars are measured on, inside the shared data folder."""
FER = "fer"
MODELS = ("default", "accurate")
FERPLUS_BARS = {"default": 0.80, "accurate": 0.83}
"""Lowest FER+ `valid` accuracy (majority labels) of each shipped model, int8 as shipped."""
LOWEST_RECALL = 0.30
"""Lowest recall of any FER2013 `val` class, for both models."""
PHOTO_MARGIN = 0.10
"""How far above `fer`'s own pipeline both models must be end to end on the photos."""
INT8_LOSS = 0.01
"""Most FER+ `valid` accuracy int8 may lose against float."""
ACCURATE_MS = 1.5
"""Most milliseconds the accurate model's classifier may take on one face (one thread); the default's bar is
`fer`'s classifier, measured in the same run."""
WARM_UP = 10
"""Timed calls left out of each figure (the first, while caches warm)."""


@dataclass(frozen=True)
class Bar:
    """One bar: what it asks, the measured value, the limit, and whether the value is on the right side."""

    name: str
    value: float
    limit: float
    passed: bool


def at_least(name: str, value: float, limit: float) -> Bar:
    return Bar(name, value, limit, value >= limit)


def at_most(name: str, value: float, limit: float) -> Bar:
    return Bar(name, value, limit, value <= limit)


def labelled_scores(classifier, folder: Path) -> dict:
    """Accuracy, per-class recall and the lowest recall (over classes the folder has) of `classifier`."""
    report = evaluate_classifier(classifier, folder).report.to_dict()
    recalls = {label: row["recall"] for label, row in report["per_class"].items() if row["support"] > 0}
    lowest = min(recalls, key=recalls.get)
    return {"n": report["n"], "accuracy": report["accuracy"], "recall": recalls,
            "lowest_recall": recalls[lowest], "lowest_recall_class": lowest}


def photo_scores(classifiers: dict, photos: Path) -> dict[str, float]:
    """End-to-end accuracy on every photo (no face counts as wrong) of each classifier and of `fer`'s pipeline."""
    scanned, images, boxes, detector = largest_faces(photos)
    photo_labels = [label for _, label in scanned.files]
    scores = {}
    for name, classifier in classifiers.items():
        labels = classifier.metadata.labels
        truth = class_indices(scanned.classes, labels)[photo_labels]
        geometry = classifier.metadata.crop_geometry("yunet", detector.crop_margin)
        scores[name] = float((our_predictions(images, boxes, classifier, geometry) == truth).mean())
    labels = classifiers[MODELS[0]].metadata.labels
    predicted, _ = fer_predictions(images, labels)
    scores[FER] = float((predicted == class_indices(scanned.classes, labels)[photo_labels]).mean())
    return scores


def int8_losses(ferplus_valid: Path, accurate_float: Path | None) -> dict[str, dict]:
    """FER+ `valid` accuracy of each model as int8 and as float, both without TTA, and where the float came from."""
    int8 = {name: evaluate_classifier(load_classifier(name, tta="none"), ferplus_valid).report.accuracy
            for name in MODELS}
    fp32 = resolve_model("default").with_name("default_fp32.tflite")
    floats = {"default": (evaluate_classifier(load_classifier(fp32, tta="none"), ferplus_valid).report.accuracy,
                          f"the shipped {fp32.name}")}
    if accurate_float is not None:
        model = load_classifier(accurate_float, tta="none")
        floats["accurate"] = (evaluate_classifier(model, ferplus_valid).report.accuracy, str(accurate_float))
    else:
        recorded = load_classifier("accurate", tta="none").metadata.extra["verification"]
        floats["accurate"] = (recorded["keras_accuracy"], f"recorded at conversion on {recorded['data']}")
    return {name: {"int8": int8[name], "float": floats[name][0], "float_from": floats[name][1]} for name in MODELS}


def latencies(classifiers: dict, ferplus_valid: Path, runs: int) -> dict[str, dict[str, float]]:
    """Mean, median and 90th percentile milliseconds of each classifier on single FER+ `valid` faces (drawn at
    random), interleaved. The mean is what a kiosk pays per face; a classifier that mirrors only the faces it is
    unsure of takes one of two times, and its median is the shorter one's."""
    inputs = {name: timed_faces(load_labeled_folder(ferplus_valid, classifier.metadata.preprocessing)[1].pixels, runs)
              for name, classifier in classifiers.items()}
    times = time_interleaved(classifiers, inputs, runs + WARM_UP)
    return {name: {"mean": float(np.mean(ms[WARM_UP:])), "median": float(np.median(ms[WARM_UP:])),
                   "p90": float(np.percentile(ms[WARM_UP:], 90))} for name, ms in times.items()}


def shipped_classifiers() -> dict:
    """Both shipped models with their recorded TTA, and `fer`'s classifier as it ships, one thread each."""
    return {**{name: load_classifier(name) for name in MODELS}, FER: apply_tta(fer_peer(1)[1], "none")}


def bars(results: dict) -> list[Bar]:
    """Every bar, checked against `results` (the figures `measure` returns)."""
    ferplus, fer2013, photos = results["ferplus_valid"], results["fer2013_val"], results["photos"]
    checks = []
    for name in MODELS:
        checks += [
            at_least(f"{name}: FER+ valid accuracy", ferplus[name]["accuracy"], FERPLUS_BARS[name]),
            at_least(f"{name}: FER2013 val accuracy, at least fer's", fer2013[name]["accuracy"],
                     fer2013[FER]["accuracy"]),
            at_least(f"{name}: lowest FER2013 val recall ({fer2013[name]['lowest_recall_class']})",
                     fer2013[name]["lowest_recall"], LOWEST_RECALL),
            at_least(f"{name}: photos end to end, fer's + {PHOTO_MARGIN:.0%}", photos[name],
                     photos[FER] + PHOTO_MARGIN),
            at_most(f"{name}: FER+ valid points lost by int8", results["int8"][name]["float"]
                    - results["int8"][name]["int8"], INT8_LOSS),
        ]
    latency = {name: times["mean"] for name, times in results["latency_ms"].items()}
    checks += [at_most("default: classifier ms a face (mean), at most fer's", latency["default"], latency[FER]),
               at_most("accurate: classifier ms a face (mean)", latency["accurate"], ACCURATE_MS)]
    return checks


def measure(data: Path, accurate_float: Path | None, runs: int) -> dict:
    """Every figure the bars need, for both shipped models and `fer`, in one run."""
    classifiers = shipped_classifiers()
    ferplus_valid, fer2013_val = data / "ferplus" / "valid", data / "fer2013" / "val"
    models = {name: classifiers[name] for name in MODELS}
    return {
        "tta": {name: tta_of(classifier) for name, classifier in classifiers.items()},
        "ferplus_valid": {name: labelled_scores(c, ferplus_valid) for name, c in classifiers.items()},
        "fer2013_val": {name: labelled_scores(c, fer2013_val) for name, c in classifiers.items()},
        "photos": photo_scores(models, data / "photos"),
        "int8": int8_losses(ferplus_valid, accurate_float),
        "latency_ms": latencies(classifiers, ferplus_valid, runs),
        "host": host_info(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--accurate-float", type=Path, default=None,
                        help="the accurate model's float Keras file (runs/accurate.keras after make accurate-model)")
    parser.add_argument("--runs", type=int, default=2000, help="timed faces per classifier")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    missing = [str(args.data / part) for part in DATA_PARTS if not (args.data / part).is_dir()]
    if missing:
        parser.error(f"no {', '.join(missing)}: --data must be the shared data folder (ferplus, fer2013, photos)")
    if args.accurate_float is not None and not args.accurate_float.is_file():
        parser.error(f"no {args.accurate_float}: make accurate-model leaves runs/accurate.keras")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    results = measure(args.data, args.accurate_float, args.runs)
    checks = bars(results)
    for check in checks:
        print(f"{'met   ' if check.passed else 'MISSED'} {check.name}: {check.value:.4f} (bar {check.limit:.4f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**results, "bars": [asdict(c) for c in checks]}, indent=2) + "\n")
    if not all(check.passed for check in checks):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
