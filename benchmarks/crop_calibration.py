"""The crop-framing sweep behind `fer-edge calibrate`: accuracy on detected faces for a grid of geometries.

Each labelled face crop (default FER+ `valid`, majority labels) is upscaled into a larger frame
(`fer_edge.framing`), the detector runs on it, and every detected face is cropped with each
geometry of the grid and classified; the measured median framing and the accuracy on the
original crops are printed beside it.

    .venv/bin/python benchmarks/crop_calibration.py fer_edge/models/default_int8.tflite \
        --detector yunet --json docs/crop-geometry/yunet.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fer_edge.crops import CropGeometry, crop_model_pixels
from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import map_classes_to_labels
from fer_edge.faces import DetectorOptions, create_detector
from fer_edge.framing import UPSCALE, detect_framed, measure_framing
from fer_edge.model_files import load_classifier
from fer_edge.preprocess import Preprocessing

SCALES = (0.9, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3)
SHIFTS = (-0.05, 0.0, 0.03, 0.06, 0.1)


def accuracy_grid(found, labels: np.ndarray, classifier, prep: Preprocessing) -> list[dict]:
    """Accuracy on the detected faces for every geometry of the grid (undetected faces count as wrong)."""
    rows = []
    detected = [i for i, (_, box, _) in enumerate(found) if box is not None]
    for scale in SCALES:
        for shift in SHIFTS:
            geometry = CropGeometry(scale, shift)
            pixels = np.stack([crop_model_pixels(found[i][0], found[i][1], prep, geometry)
                               for i in detected])
            predicted = classifier.predict_pixels(pixels).argmax(axis=1)
            correct = int((predicted == labels[detected]).sum())
            rows.append({"scale": scale, "shift_y": shift, "accuracy_detected": correct / len(detected),
                         "accuracy_all": correct / len(found)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", default="../shared/data/ferplus/valid", help="labelled face crops")
    parser.add_argument("--detector", default="yunet", choices=("yunet", "mtcnn"))
    parser.add_argument("--limit", type=int, default=0, help="at most this many faces (0: all), drawn with seed 0")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    classifier = load_classifier(args.model, tta="none")
    prep = classifier.metadata.preprocessing
    classes, split, _ = load_labeled_folder(args.data, prep)
    labels = map_classes_to_labels(classes, classifier.metadata.labels)[split.labels]
    order = np.random.default_rng(0).permutation(len(labels))[:args.limit or None]
    original = float((classifier.predict_pixels(split.pixels[order]).argmax(axis=1) == labels[order]).mean())
    found = detect_framed([split.paths[i] for i in order], create_detector(args.detector, DetectorOptions()), True)
    result = {"model": str(args.model), "data": args.data, "detector": args.detector, "upscale": UPSCALE,
              "original_crops_accuracy": original, "framing": measure_framing(found, args.detector).to_dict(),
              "grid": accuracy_grid(found, labels[order], classifier, prep)}
    best = max(result["grid"], key=lambda row: row["accuracy_all"])
    print(json.dumps({k: v for k, v in result.items() if k != "grid"}, indent=2))
    print(f"best geometry: scale {best['scale']}, shift_y {best['shift_y']}: {best['accuracy_all']:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
