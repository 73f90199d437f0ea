"""MTCNN (training crops) against YuNet (device) on real photos, side by side in one run.

Usage: .venv/bin/python benchmarks/detectors.py [PHOTOS] [--json out.json] [--every 1]
Reports, per detector: face found rate, median latency per photo and per 640x480 frame
(the photo centred on a grey 640x480 canvas); between them: box IoU and the mean absolute
pixel difference of their 64x64 crops (the shared crop geometry).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fer_edge.crops import crop_face
from fer_edge.faces import create_detector
from fer_edge.images import read_image, scan_image_folder
from fer_edge.errors import ImageDecodeError

DEFAULT_PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos"


def on_canvas(image: np.ndarray, size=(480, 640)) -> np.ndarray:
    """The photo centred on a grey frame of `size` (height, width), shrunk if it does not fit."""
    from fer_edge.preprocess import resize_rgb

    scale = min(1.0, size[0] / image.shape[0], size[1] / image.shape[1])
    if scale < 1.0:
        image = resize_rgb(image, (int(image.shape[0] * scale), int(image.shape[1] * scale)))
    canvas = np.full((*size, 3), 128, np.uint8)
    top, left = (size[0] - image.shape[0]) // 2, (size[1] - image.shape[1]) // 2
    canvas[top:top + image.shape[0], left:left + image.shape[1]] = image
    return canvas


def timed(detector, image):
    start = time.perf_counter()
    faces = detector.detect(image)
    return faces, (time.perf_counter() - start) * 1000


def _detectors(detect_widths: tuple[int, ...], haar: bool) -> dict:
    """The detectors compared, by name."""
    from fer_edge.faces import DetectorOptions

    detectors = {"mtcnn": create_detector("mtcnn"), "yunet": create_detector("yunet")}
    for width in detect_widths:
        detectors[f"yunet@{width}"] = create_detector("yunet", DetectorOptions(detect_width=width))
    if haar:
        from fer_edge.peers import HaarDetector, fer_data_dir

        detectors["haar (fer)"] = HaarDetector(fer_data_dir() / "haarcascade_frontalface_default.xml")
    return detectors


def compare(photos: list[Path], detect_widths: tuple[int, ...] = (320,), haar: bool = True) -> dict:
    """Run the detectors on every photo and on its 640x480 frame; return the summary.

    `yunet@W` is YuNet looking at the frame shrunk to width W (boxes scaled back); `haar` is
    the `fer` package's cascade with its settings (needs `pip install fer --no-deps`).
    """
    detectors = _detectors(detect_widths, haar)
    names = tuple(detectors)
    for detector in detectors.values():  # warm-up
        detector.detect(np.full((480, 640, 3), 128, np.uint8))
    stats = {name: {"found": 0, "ms_photo": [], "ms_640x480": [], "found_640x480": 0} for name in names}
    ious, crop_diffs, used = [], [], 0
    for path in photos:
        try:
            image = read_image(path)
        except ImageDecodeError:
            continue
        used += 1
        first = {}
        for name, detector in detectors.items():
            faces, ms = timed(detector, image)
            frame_faces, frame_ms = timed(detector, on_canvas(image))
            stats[name]["ms_photo"].append(ms)
            stats[name]["ms_640x480"].append(frame_ms)
            stats[name]["found"] += bool(faces)
            stats[name]["found_640x480"] += bool(frame_faces)
            first[name] = faces[0] if faces else None
        if first["mtcnn"] and first["yunet"]:
            a, b = first["mtcnn"], first["yunet"]
            ious.append(a.iou(b))
            crops = [crop_face(image, face, 64).astype(np.float32) for face in (a, b)]
            crop_diffs.append(float(np.abs(crops[0] - crops[1]).mean()))
    return summarize(stats, ious, crop_diffs, used)


def summarize(stats, ious, crop_diffs, used) -> dict:
    out = {"photos": used}
    for name, s in stats.items():
        out[name] = {
            "found_rate": s["found"] / used,
            "found_rate_640x480": s["found_640x480"] / used,
            "median_ms_photo": float(np.median(s["ms_photo"])),
            "median_ms_640x480": float(np.median(s["ms_640x480"])),
        }
    out["box_iou"] = {"median": float(np.median(ious)), "p10": float(np.percentile(ious, 10)),
                      "share_above_0.5": float(np.mean(np.array(ious) > 0.5))}
    out["crop_mean_abs_diff_64px"] = {"median": float(np.median(crop_diffs)),
                                      "p90": float(np.percentile(crop_diffs, 90))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", default=str(DEFAULT_PHOTOS))
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--every", type=int, default=1, help="use every N-th photo")
    parser.add_argument("--detect-width", type=int, nargs="*", default=[320, 256],
                        help="YuNet's reduced input widths")
    parser.add_argument("--no-haar", action="store_true", help="leave out the fer package's Haar cascade")
    args = parser.parse_args()
    photos = [path for path, _ in scan_image_folder(args.photos).files][:: args.every]
    result = compare(photos, tuple(args.detect_width), not args.no_haar)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_path:
        Path(args.json_path).write_text(text + "\n")


if __name__ == "__main__":
    main()
