"""A frame's two area averagings, exact (before 2026-12-07) against fast: faces found, crops, and time.

Usage: .venv/bin/python benchmarks/frame_resize.py [PHOTOS] [--json out.json] [--every 1] [--runs 3]

Every photo in which full-size YuNet finds a face (at least 48 px) is shrunk so that the face spans a random
size between 24 and 240 pixels (seed 0) on a grey 640x480 frame (as `yunet_face_size.py` places them). Both
detectors search each frame with the runtime's default options: `area` reduces the frame to 256 px with
`cv2.INTER_AREA` (the rule before 2026-12-07's change), `now` with `fer_edge.faces.shrink_frame`. Reported:
the share of faces each finds (a box with IoU > 0.4), by face size; how far their boxes agree; and the median
time of the reduction alone and of a whole `detect`, the two detectors taking turns frame by frame. Then the
whole frame (detect, crop, classify) of each shipped model as the runtime runs it now (`shrink_frame`, then
`crop_model_pixels`: a grey region averaged down) against before (both averagings exact, the crop averaged
down in colour and made grey after), the two taking turns frame by frame.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from fer_edge.crops import crop_face
from fer_edge.faces import DetectorOptions, YuNetDetector, shrink_frame
from fer_edge.host import host_info
from fer_edge.images import scan_image_folder
from fer_edge.model_files import load_classifier
from fer_edge.preprocess import to_model_pixels
from fer_edge.recognizer import Recognizer
from yunet_face_size import DEFAULT_PHOTOS, found, placed, reference_faces

SIZE_BINS = ((24, 48), (48, 96), (96, 160), (160, 241))


class AreaDetector(YuNetDetector):
    """YuNet as the runtime runs it, but the frame reduced with `cv2.INTER_AREA` (exact, slow at ratios like 2.5)."""

    def _search(self, image_rgb: np.ndarray, width: int) -> list:
        scale = image_rgb.shape[1] / width
        if width != image_rgb.shape[1]:
            image_rgb = cv2.resize(image_rgb, (width, max(1, round(image_rgb.shape[0] / scale))),
                                   interpolation=cv2.INTER_AREA)
        return self._run(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), scale)


class RecognizerBefore(Recognizer):
    """The recognizer as it cropped before: the face averaged down in colour, then made grey."""

    def crops(self, frame_rgb: np.ndarray, boxes: list) -> np.ndarray:
        size = self._prep.input_size
        return np.stack([to_model_pixels(crop_face(frame_rgb, box, size, self.geometry), self._prep) for box in boxes])


def frames_with_faces(references, seed: int = 0) -> list[tuple[np.ndarray, object, float]]:
    """(640x480 frame, expected box, face side) for every reference face at a random side in [24, 240]."""
    rng = np.random.default_rng(seed)
    out = []
    for image, face in references:
        side = float(rng.uniform(24, 240))
        frame, box = placed(image, face, side, (480, 640))
        out.append((frame, box, side))
    return out


def share_in(hits: np.ndarray, selected: np.ndarray) -> float | None:
    """The share of `hits` that are true among the `selected` ones (None when none is selected)."""
    return float(hits[selected].mean()) if selected.any() else None


def agreement(frames, detectors: dict) -> dict:
    """Share found by each detector per face-size bin, and the IoU of their largest boxes where both find one."""
    faces = {name: [detector.detect(frame) for frame, _, _ in frames] for name, detector in detectors.items()}
    hits = {name: [found(each, box) for each, (_, box, _) in zip(found_faces, frames)]
            for name, found_faces in faces.items()}
    sides = np.array([side for _, _, side in frames])
    bins = {f"{low}-{high - 1} px": {name: share_in(np.array(hit), (sides >= low) & (sides < high))
                                    for name, hit in hits.items()} for low, high in SIZE_BINS}
    ious = [first[0].iou(second[0]) for first, second in zip(*faces.values()) if first and second]
    return {"faces": len(frames), "found": {name: float(np.mean(hit)) for name, hit in hits.items()},
            "found_by_size": bins, "largest_box_iou_median": float(np.median(ious)),
            "largest_box_iou_under_0.9": float(np.mean(np.array(ious) < 0.9))}


def times_ms(frames, detectors: dict, runs: int) -> dict:
    """Median ms of each detector's reduction to 256 px and of its whole detect, taking turns frame by frame."""
    reduce = {"area": lambda f: cv2.resize(f, (256, 192), interpolation=cv2.INTER_AREA),
              "now": lambda f: shrink_frame(f, 256, 192)}
    samples = {f"{kind}_{name}": [] for kind in ("reduce", "detect") for name in detectors}
    for _ in range(runs):
        for frame, _, _ in frames:
            for name, detector in detectors.items():
                for kind, call in (("reduce", reduce[name]), ("detect", detector.detect)):
                    start = time.perf_counter()
                    call(frame)
                    samples[f"{kind}_{name}"].append((time.perf_counter() - start) * 1000)
    return {f"{key}_ms": round(float(np.median(values)), 3) for key, values in samples.items()}


def frame_ms(frames, models: list[str], runs: int) -> dict:
    """Median ms of a whole frame (every face found, cropped and classified with the model's own TTA) for each
    model, before against now, all taking turns frame by frame."""
    pipelines = {}
    for model in models:
        classifier = load_classifier(model)
        pipelines[f"frame_{model}_before"] = RecognizerBefore(classifier, AreaDetector(DetectorOptions()))
        pipelines[f"frame_{model}_now"] = Recognizer(classifier, YuNetDetector(DetectorOptions()))
    samples = {name: [] for name in pipelines}
    for _ in range(runs):
        for frame, _, _ in frames:
            for name, recognizer in pipelines.items():
                start = time.perf_counter()
                recognizer.recognize_rgb(frame)
                samples[name].append((time.perf_counter() - start) * 1000)
    return {f"{name}_ms": round(float(np.median(values)), 3) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", default=str(DEFAULT_PHOTOS))
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--every", type=int, default=1, help="use every N-th photo")
    parser.add_argument("--runs", type=int, default=3, help="timed passes over the frames")
    args = parser.parse_args()
    photos = [path for path, _ in scan_image_folder(args.photos).files][::args.every]
    frames = frames_with_faces(reference_faces(photos))
    detectors = {"area": AreaDetector(DetectorOptions()), "now": YuNetDetector(DetectorOptions())}
    result = {"host": host_info(), **agreement(frames, detectors), **times_ms(frames, detectors, args.runs),
              **frame_ms(frames, ["default", "accurate"], args.runs)}
    print(json.dumps(result, indent=2))
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
