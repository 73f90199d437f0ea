"""How small a face YuNet finds, and what the second search of an empty frame costs, on real photos.

Usage: .venv/bin/python benchmarks/yunet_face_size.py [PHOTOS] [--json out.json] [--every 1] [--runs 200]

1. Face size: every photo in which full-size YuNet finds a face (at least 48 px) is shrunk so that face
   spans S pixels and searched on a grey 320x240 frame, for each S; the share found again (a box with
   IoU > 0.4) is the curve behind `fer_edge.faces.YUNET_RELIABLE_FACE`.
2. Minimum face size: for each `--min-face-size` M, each photo's face is drawn at a random size between M
   and 2M on a 640x480 frame; found by the detector before (`DetectorBefore`: one network resized for each
   search, the second search at full size) and now (a network per input size, the second search at
   `retry_width`), and the median time of each on empty 640x480 scenes (scikit-image photos without faces),
   the two interleaved.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from fer_edge.errors import ImageDecodeError
from fer_edge.faces import (DetectorOptions, FaceBox, YuNetDetector, filter_faces, retry_width, shrink_frame,
                            yunet_model_path)
from fer_edge.images import read_image, scan_image_folder

DEFAULT_PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos"
SIZES = (16, 20, 24, 28, 32, 36, 40, 48, 56, 64, 80, 96)
MIN_FACE_SIZES = (20, 40, 64, 96, 128)


def reference_faces(photos: list[Path]) -> list[tuple[np.ndarray, FaceBox]]:
    """(photo, its largest face at full size) for every readable photo with a face of at least 48 px."""
    detector, found = YuNetDetector(DetectorOptions(detect_width=0, min_face_size=48)), []
    for path in photos:
        try:
            image = read_image(path)
        except ImageDecodeError:
            continue
        faces = detector.detect(image)
        if faces:
            found.append((image, faces[0]))
    return found


def placed(image: np.ndarray, face: FaceBox, side: float, frame: tuple[int, int]) -> tuple[np.ndarray, FaceBox]:
    """`image` shrunk so `face`'s shorter side spans `side` pixels, on a grey frame's top left; the expected box."""
    scale = side / min(face.width, face.height)
    small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    canvas = np.full((*frame, 3), 128, np.uint8)
    height, width = min(frame[0], small.shape[0]), min(frame[1], small.shape[1])
    canvas[:height, :width] = small[:height, :width]
    return canvas, FaceBox(face.x * scale, face.y * scale, face.width * scale, face.height * scale, 1.0)


def found(faces: list[FaceBox], expected: FaceBox) -> bool:
    return any(face.iou(expected) > 0.4 for face in faces)


def size_curve(references) -> dict[int, float]:
    """Share of the reference faces found again when they span each of SIZES pixels."""
    detector = YuNetDetector(DetectorOptions(detect_width=0, min_face_size=0))
    return {side: float(np.mean([found(detector.detect(frame), box) for frame, box in
                                 (placed(image, face, side, (240, 320)) for image, face in references)]))
            for side in SIZES}


class DetectorBefore:
    """YuNetDetector as it was before `retry_width` and `YUNET_NETS_KEPT` (2026-12-07), for 640x480 frames:
    one network, its input resized for each search; the frame at 256 px, then at full size if nothing was found.
    The frame is reduced as today's detector reduces it (`shrink_frame`), so that only the searches differ."""

    def __init__(self, min_face_size: int, shrunk: int = 256):
        self.options, self.shrunk = DetectorOptions(min_face_size=min_face_size), shrunk
        self.net, self.size = cv2.FaceDetectorYN.create(str(yunet_model_path()), "", (320, 320), 0.7, 0.3, 5000), None

    def _search(self, bgr: np.ndarray, scale: float) -> list[FaceBox]:
        size = (bgr.shape[1], bgr.shape[0])
        if size != self.size:
            self.net.setInputSize(size)
            self.size = size
        rows = self.net.detect(bgr)[1]
        faces = [] if rows is None else [FaceBox(*(float(v) * scale for v in row[:4]), float(row[14])) for row in rows]
        return filter_faces(faces, self.options)

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        scale = frame.shape[1] / self.shrunk
        small = shrink_frame(frame, self.shrunk, round(frame.shape[0] / scale))
        return (self._search(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), scale)
                or self._search(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), 1.0))


def empty_scenes() -> list[np.ndarray]:
    """640x480 scenes without a face: scikit-image's coffee, rocket, chelsea (a cat) and hubble photos."""
    from skimage import data

    scenes = (data.coffee(), data.rocket(), data.chelsea(), data.hubble_deep_field())
    return [cv2.resize(np.ascontiguousarray(scene), (640, 480), interpolation=cv2.INTER_AREA) for scene in scenes]


def medians_ms(detects: dict, frames: list[np.ndarray], runs: int) -> dict[str, float]:
    """Median milliseconds per frame of each detect function, the functions taking turns frame by frame."""
    times = {name: [] for name in detects}
    for index in range(runs):
        for name, detect in detects.items():
            start = time.perf_counter()
            detect(frames[index % len(frames)])
            times[name].append((time.perf_counter() - start) * 1000)
    return {f"empty_ms_{name}": float(np.median(values)) for name, values in times.items()}


def min_face_rows(references, runs: int, seed: int = 0) -> list[dict]:
    """Per minimum face size: faces found and the empty-scene time, full-size retry against `retry_width`."""
    rows, scenes = [], empty_scenes()
    for minimum in MIN_FACE_SIZES:
        rng = np.random.default_rng(seed)
        now = YuNetDetector(DetectorOptions(min_face_size=minimum))
        before = DetectorBefore(minimum)
        frames = [placed(image, face, rng.uniform(minimum, 2 * minimum), (480, 640)) for image, face in references]
        before_found = np.mean([found(before.detect(frame), box) for frame, box in frames])
        now_found = np.mean([found(now.detect(frame), box) for frame, box in frames])
        rows.append({"min_face_size": minimum, "retry_width_640x480": retry_width(480, 640, minimum),
                     "found_before": float(before_found), "found_now": float(now_found),
                     **medians_ms({"before": before.detect, "now": now.detect}, scenes, runs)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", default=str(DEFAULT_PHOTOS))
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--every", type=int, default=1, help="use every N-th photo")
    parser.add_argument("--runs", type=int, default=200, help="timed detections of empty scenes per setting")
    args = parser.parse_args()
    photos = [path for path, _ in scan_image_folder(args.photos).files][:: args.every]
    references = reference_faces(photos)
    result = {"faces": len(references), "found_by_face_side_px": size_curve(references),
              "min_face_size": min_face_rows(references, args.runs)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_path:
        Path(args.json_path).write_text(text + "\n")


if __name__ == "__main__":
    main()
