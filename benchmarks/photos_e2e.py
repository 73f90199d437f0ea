"""End to end on real photos: our detector -> crop -> model against the `fer` package's own pipeline.

Every photo of `../shared/data/photos` (noisy labels: a comparison, never an absolute accuracy)
goes through each pipeline; the largest face is classified and a photo without a face counts as
wrong. Ours: YuNet (the runtime's default options), the crop geometry under test, the model, with
and without mirror test-time augmentation. `fer`'s: a faithful re-implementation of its
`FER().detect_emotions` default path (Haar cascade 1.1 / 5 / 50 px, square box, 10 px offsets,
40 px mean-grey padding, bilinear resize to 64x64, its TFLite mini-Xception), without importing it.

    .venv/bin/python benchmarks/photos_e2e.py --model default --json docs/crop-geometry/photos.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fer_edge.crops import CropGeometry, crop_model_pixels
from fer_edge.faces import DetectorOptions, FaceBox, create_detector
from fer_edge.images import read_image, scan_image_folder
from fer_edge.labels import canonical_label
from fer_edge.model_files import load_classifier
from fer_edge.peers import fer_peer
from fer_edge.tta import apply_tta

FER_PADDING, FER_OFFSET = 40, 10
NOT_A_LABEL = -2
"""A photo class the model has no label for (contempt for a 7-class model): always wrong."""


def class_indices(classes, labels) -> np.ndarray:
    """Index of each photo class in the model's labels (by canonical name), else `NOT_A_LABEL`."""
    names = [canonical_label(name) for name in labels]
    return np.array([names.index(canonical_label(c)) if canonical_label(c) in names else NOT_A_LABEL
                     for c in classes])


def fer_face_pixels(image_rgb: np.ndarray, box: FaceBox) -> np.ndarray:
    """`fer`'s crop of a Haar box: square, 10 px offsets, 40 px padding of the bottom rows' mean, 64x64."""
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    mean = cv2.mean(gray[-2:])[0]
    padded = cv2.copyMakeBorder(gray, *(FER_PADDING,) * 4, cv2.BORDER_CONSTANT, value=[mean] * 3)
    x, y, w, h = (int(v) for v in (box.x, box.y, box.width, box.height))
    if h > w:
        x, w = x - (h - w) // 2, h
    elif w > h:
        y, h = y - (w - h) // 2, w
    x1, y1 = max(0, x - FER_OFFSET + FER_PADDING), max(0, y - FER_OFFSET + FER_PADDING)
    x2, y2 = x + w + FER_OFFSET + FER_PADDING, y + h + FER_OFFSET + FER_PADDING
    return cv2.resize(padded[y1:y2, x1:x2], (64, 64))[..., np.newaxis]


def fer_predictions(images, labels_of_model) -> tuple[np.ndarray, int]:
    """`fer`'s label index (in `labels_of_model`, -1 for no face or no such label) for every image."""
    detector, classifier = fer_peer()
    names = [canonical_label(name) for name in labels_of_model]
    out, found = np.full(len(images), -1), 0
    for i, image in enumerate(tqdm(images, desc="fer", unit="photo")):
        boxes = detector.detect(image)
        if boxes:
            found += 1
            label = classifier.metadata.labels[int(classifier.predict_pixels(fer_face_pixels(image, boxes[0])[None])
                                                   .argmax())]
            out[i] = names.index(canonical_label(label)) if canonical_label(label) in names else -1
    return out, found


def our_predictions(images, boxes, classifier, geometry: CropGeometry) -> np.ndarray:
    """Our label index for every image (-1 where no face was found)."""
    prep = classifier.metadata.preprocessing
    found = [i for i, box in enumerate(boxes) if box is not None]
    pixels = np.stack([crop_model_pixels(images[i], boxes[i], prep, geometry)
                       for i in found])
    out = np.full(len(images), -1)
    out[found] = classifier.predict_pixels(pixels).argmax(axis=1)
    return out


def scores(predicted: np.ndarray, truth: np.ndarray, photo_truth: np.ndarray, photo_classes) -> dict:
    """Accuracy over every photo, over the photos of the 7 FER2013 classes (no contempt), and per photo class."""
    per_class = {name: float((predicted[photo_truth == c] == truth[photo_truth == c]).mean())
                 for c, name in enumerate(photo_classes)}
    seven = np.array([photo_classes[c] != "contempt" for c in photo_truth])
    return {"accuracy": float((predicted == truth).mean()), "accuracy_without_contempt":
            float((predicted[seven] == truth[seven]).mean()), "per_class": per_class}


def largest_faces(photos) -> tuple:
    """Every photo of the folder (its scan and decoded images) and the largest face YuNet finds in each (None if none),
    with YuNet's runtime default options."""
    scanned = scan_image_folder(photos)
    images = [read_image(path) for path, _ in tqdm(scanned.files, desc="read", unit="photo")]
    detector = create_detector("yunet", DetectorOptions())
    boxes = [(faces[0] if (faces := detector.detect(image)) else None) for image in tqdm(images, desc="yunet")]
    return scanned, images, boxes, detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--photos", default="../shared/data/photos")
    parser.add_argument("--geometry", action="append", default=[],
                        help="scale,shift_y to compare (repeatable; default: the model's own and a 20%% margin)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    classifier = load_classifier(args.model, tta="none")
    scanned, images, boxes, detector = largest_faces(args.photos)
    truth = class_indices(scanned.classes, classifier.metadata.labels)[[label for _, label in scanned.files]]
    photo_truth = np.array([label for _, label in scanned.files])
    own = classifier.metadata.crop_geometry("yunet", detector.crop_margin)
    geometries = [own, CropGeometry(1.2, 0.0)] + [CropGeometry(*map(float, g.split(","))) for g in args.geometry]
    labels = classifier.metadata.labels
    result = {"model": args.model, "photos": len(images), "yunet_found": sum(b is not None for b in boxes), "rows": []}
    for geometry in dict.fromkeys(geometries):
        for tta in dict.fromkeys(("none", "mirror", classifier.metadata.tta)):  # and the model's own, if another
            predicted = our_predictions(images, boxes, apply_tta(classifier, tta), geometry)
            result["rows"].append({"pipeline": f"yunet scale {geometry.scale:g} shift {geometry.shift_y:+g} tta {tta}",
                                   **scores(predicted, truth, photo_truth, scanned.classes)})
    predicted, found = fer_predictions(images, labels)
    result["fer_found"] = found
    result["rows"].append({"pipeline": "fer default (haar + mini-xception)",
                           **scores(predicted, truth, photo_truth, scanned.classes)})
    for row in result["rows"]:
        print(f"{row['pipeline']:<45} {row['accuracy']:.4f}  (without contempt {row['accuracy_without_contempt']:.4f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
