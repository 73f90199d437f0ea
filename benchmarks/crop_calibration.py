"""Calibrate a model's crop framing for a detector: where do FER-style training faces sit around its boxes?

FER2013 / FER+ faces are tight 48x48 crops. This script upscales each labelled face (default
FER+ `valid`, majority labels), sets it in a larger frame with replicated borders, runs the
detector on the frame and measures the face's frame relative to the detected box: the scale
(frame side / longer box side) and the vertical shift (frame centre below the box centre, as a
fraction of the frame side). It then crops every detected face with a grid of geometries and
scores the model on them, next to the model's accuracy on the original crops.

    .venv/bin/python benchmarks/crop_calibration.py fer_edge/models/default_int8.tflite \
        --detector yunet --json docs/crop-geometry/yunet.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fer_edge.crops import CropGeometry, crop_face
from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import map_classes_to_labels
from fer_edge.faces import DetectorOptions, FaceBox, create_detector
from fer_edge.images import read_image
from fer_edge.model_files import load_classifier
from fer_edge.preprocess import Preprocessing, to_model_pixels

UPSCALE = 4
"""48x48 faces become 192x192, a face size detectors are built for."""
BORDER = 0.5
"""Border added on each side, as a fraction of the upscaled face."""
SCALES = (0.9, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3)
SHIFTS = (-0.05, 0.0, 0.03, 0.06, 0.1)


def framed(face_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The face upscaled and set in a frame with replicated borders; (frame, face side in the frame)."""
    side = face_rgb.shape[0] * UPSCALE
    big = cv2.resize(face_rgb, (side, side), interpolation=cv2.INTER_CUBIC)
    pad = int(side * BORDER)
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE), float(side)


def central_face(boxes: list[FaceBox], frame: np.ndarray) -> FaceBox | None:
    """The detected box whose centre is nearest the frame's centre."""
    if not boxes:
        return None
    centre = np.array(frame.shape[1::-1], np.float64) / 2
    return min(boxes, key=lambda box: float(np.hypot(*(np.array(box.center) - centre))))


def detect_all(paths, detector) -> list[tuple[np.ndarray, FaceBox | None, float]]:
    """(frame, central box or None, face side) of every face."""
    found = []
    for path in tqdm(paths, desc=f"detect ({detector.name})", unit="face"):
        frame, side = framed(read_image(path))
        found.append((frame, central_face(detector.detect(frame), frame), side))
    return found


def framing_stats(found) -> dict:
    """Median and quartiles of the scale and shift that reproduce the training frame from the box."""
    scales, shifts = [], []
    for frame, box, side in found:
        if box is not None:
            scales.append(side / max(box.width, box.height))
            shifts.append((frame.shape[0] / 2 - box.center[1]) / side)
    quartiles = lambda v: [float(q) for q in np.percentile(v, (25, 50, 75))]  # noqa: E731
    return {"detected": len(scales), "faces": len(found), "scale_quartiles": quartiles(scales),
            "shift_y_quartiles": quartiles(shifts)}


def accuracy_grid(found, labels: np.ndarray, classifier, prep: Preprocessing) -> list[dict]:
    """Accuracy on the detected faces for every geometry of the grid (undetected faces count as wrong)."""
    rows = []
    detected = [i for i, (_, box, _) in enumerate(found) if box is not None]
    for scale in SCALES:
        for shift in SHIFTS:
            geometry = CropGeometry(scale, shift)
            pixels = np.stack([to_model_pixels(crop_face(found[i][0], found[i][1], prep.input_size, geometry), prep)
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
    found = detect_all([split.paths[i] for i in order], create_detector(args.detector, DetectorOptions()))
    result = {"model": str(args.model), "data": args.data, "detector": args.detector, "upscale": UPSCALE,
              "original_crops_accuracy": original, "framing": framing_stats(found),
              "grid": accuracy_grid(found, labels[order], classifier, prep)}
    best = max(result["grid"], key=lambda row: row["accuracy_all"])
    print(json.dumps({k: v for k, v in result.items() if k != "grid"}, indent=2))
    print(f"best geometry: scale {best['scale']}, shift_y {best['shift_y']}: {best['accuracy_all']:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
