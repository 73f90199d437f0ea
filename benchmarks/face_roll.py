"""How tilted faces are: the eye-line roll of real photos' faces against FER+ faces, from detectors' eye landmarks.

Usage: .venv/bin/python benchmarks/face_roll.py [--photos DIR] [--ferplus DIR] [--faces 800] [--seed 0]
       [--detector mtcnn --detector yunet] [--json out.json]

A face's roll is the angle of the line from the eye on the image's left to the eye on its right, in degrees
(positive: the eye on the right lies lower). Photos: the largest face of every photo; FER+ `valid`: a random
sample of its faces, each upscaled into a frame as `fer_edge.framing` does to calibrate crop framing. Turning
runtime crops upright (roll alignment) can only pay where runtime faces are more tilted than the training faces.
Whether a detector's landmarks follow roll at all is checked on each photo turned by `TURN` degrees.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox, create_detector
from fer_edge.framing import framed
from fer_edge.images import read_image, scan_image_folder
from fer_edge.native_logs import quiet_native_libraries

quiet_native_libraries()  # before MTCNN imports TensorFlow: its C++ lines off, as in the CLI

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TURN = 15.0
"""Degrees each photo is turned (counter-clockwise on screen) to check that landmarks follow roll."""


def eye_roll(face: FaceBox) -> float | None:
    """The roll of `face` in degrees from its two eye landmarks (None without landmarks)."""
    if len(face.landmarks) < 2:
        return None
    (left_x, left_y), (right_x, right_y) = face.landmarks[0], face.landmarks[1]
    return math.degrees(math.atan2(right_y - left_y, right_x - left_x))


def largest_roll(image: np.ndarray, detector) -> float | None:
    """The roll of the largest face `detector` finds in `image` (None without a face or its landmarks)."""
    faces = detector.detect(image)  # largest first
    return eye_roll(faces[0]) if faces else None


def rolls(images: Iterable[np.ndarray], detector) -> list[float]:
    """The roll of the largest face of each image in which `detector` finds one with landmarks."""
    return [roll for roll in (largest_roll(image, detector) for image in images) if roll is not None]


def summary(values: list[float]) -> dict[str, float]:
    """Count, median and percentiles of |roll| (degrees), and the share over 10 and 20 degrees."""
    if not values:
        return {"faces": 0}
    tilt = np.abs(np.asarray(values, np.float64))
    p50, p75, p90 = np.percentile(tilt, [50, 75, 90])
    return {"faces": len(values), "median_abs_deg": round(float(p50), 2), "p75_abs_deg": round(float(p75), 2),
            "p90_abs_deg": round(float(p90), 2), "share_over_10_deg": round(float((tilt > 10).mean()), 4),
            "share_over_20_deg": round(float((tilt > 20).mean()), 4)}


def turned(image: np.ndarray, degrees: float) -> np.ndarray:
    """`image` turned counter-clockwise on screen by `degrees` about its centre, borders repeated."""
    import cv2

    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def photo_rolls(images: Iterable[np.ndarray], detector, degrees: float = TURN) -> tuple[list[float], list[float]]:
    """The roll of each image's largest face, and, for each whose face is found turned by `degrees` too, how much
    the measured roll changed (one detection of each view)."""
    upright, changes = [], []
    for image in images:
        before = largest_roll(image, detector)
        if before is None:
            continue
        upright.append(before)
        after = largest_roll(turned(image, degrees), detector)
        if after is not None:
            changes.append(before - after)
    return upright, changes


def photo_images(root: Path) -> Iterator[np.ndarray]:
    """Every readable photo of an ImageFolder (unreadable ones are skipped)."""
    for path, _ in scan_image_folder(root).files:
        try:
            yield read_image(path)
        except FerEdgeError:
            continue


def framed_faces(folder: Path, count: int, seed: int) -> Iterator[np.ndarray]:
    """`count` faces drawn at random from the PNG crops in `folder`, each upscaled into a frame."""
    paths = sorted(folder.glob("*.png"))
    for path in random.Random(seed).sample(paths, min(count, len(paths))):
        yield framed(read_image(path))[0]


def measure(detector, args: argparse.Namespace) -> dict:
    """Roll of the photos' and the framed FER+ faces, and how much of a `TURN` turn the landmarks follow."""
    upright, change = photo_rolls(photo_images(args.photos), detector)
    change = np.asarray(change)
    return {"photos": summary(upright),
            "ferplus_valid_framed": summary(rolls(framed_faces(args.ferplus, args.faces, args.seed), detector)),
            f"photos_turned_{TURN:g}_deg_median_change": round(float(np.median(change)), 2) if change.size else None}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=SHARED_DATA / "photos")
    parser.add_argument("--ferplus", type=Path, default=SHARED_DATA / "ferplus" / "valid")
    parser.add_argument("--faces", type=int, default=800, help="FER+ faces to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detector", action="append", choices=("mtcnn", "yunet"),
                        help="repeat for several (default: mtcnn and yunet)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = {name: measure(create_detector(name), args) for name in args.detector or ("mtcnn", "yunet")}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
