"""Benchmarks: latency and accuracy of face pipelines (detector + classifier), side by side in one run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.crops import CropGeometry, crop_model_pixels
from fer_edge.errors import DatasetError, FerEdgeError
from fer_edge.images import read_image, scan_image_folder
from fer_edge.labels import canonical_label
from fer_edge.preprocess import resize_rgb
from fer_edge.recognizer import framing_for

logger = logging.getLogger(__name__)

FRAME_SIZE = (480, 640)  # height, width of a kiosk frame
STAGES = ("detect", "preprocess", "classify", "end_to_end")


@dataclass(frozen=True)
class Frame:
    """One benchmark frame (RGB) and, for labeled data, its class name."""

    image: np.ndarray
    label: str | None = None


@dataclass(frozen=True)
class Pipeline:
    """A detector and a classifier measured together."""

    name: str
    path: str
    precision: str
    threads: int
    detector: Any
    classifier: Any
    size_bytes: int
    device: str = "cpu"


@dataclass(frozen=True)
class BenchRecord:
    """Measurements of one pipeline; `predictions` holds the top label per frame (None: no face)."""

    name: str
    path: str
    precision: str
    threads: int
    detector: str
    device: str
    size_bytes: int
    latency_ms: dict[str, dict[str, float]]
    peak_rss_mb: float
    face_found: float
    predictions: tuple[str | None, ...] = field(repr=False)
    accuracy: float | None = None
    agreement: float | None = None

    @property
    def fps(self) -> float:
        """Frames per second implied by the median end-to-end latency."""
        return 1000.0 / self.latency_ms["end_to_end"]["median"]

    def to_dict(self) -> dict[str, Any]:
        """JSON record: name, path, precision, threads, detector, size_bytes, latency_ms, fps, accuracy/agreement."""
        data = {k: getattr(self, k) for k in ("name", "path", "precision", "threads", "detector", "device",
                                              "size_bytes", "latency_ms", "peak_rss_mb", "face_found")}
        data["fps"] = self.fps
        for key in ("accuracy", "agreement"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


def on_canvas(image: np.ndarray, size: tuple[int, int] = FRAME_SIZE, scale: float = 1.0,
              offset: tuple[int, int] = (0, 0), fill: int = 128) -> np.ndarray:
    """`image` scaled by `scale` (and shrunk to fit), placed centred plus `offset` on a grey frame."""
    height, width = size
    scale = min(scale, height / image.shape[0], width / image.shape[1])
    image = resize_rgb(image, (max(1, int(image.shape[0] * scale)), max(1, int(image.shape[1] * scale))))
    canvas = np.full((height, width, 3), fill, np.uint8)
    top = int(np.clip((height - image.shape[0]) // 2 + offset[0], 0, height - image.shape[0]))
    left = int(np.clip((width - image.shape[1]) // 2 + offset[1], 0, width - image.shape[1]))
    canvas[top:top + image.shape[0], left:left + image.shape[1]] = image
    return canvas


def shipped_face_photo() -> Path:
    """A real face photo that ships inside a dependency: scikit-image's `astronaut.png` (no network)."""
    spec = find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FerEdgeError('the default benchmark frames come from scikit-image: pip install "fer-edge[bench]", '
                           "or pass --data with your own images")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "astronaut.png"


def default_frames(count: int = 24, seed: int = 0) -> list[Frame]:
    """640x480 frames of one real face at varied scale, position and mirroring."""
    face = read_image(shipped_face_photo())
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        image = face[:, ::-1] if rng.random() < 0.5 else face
        offset = (int(rng.integers(-60, 61)), int(rng.integers(-120, 121)))
        frames.append(Frame(on_canvas(np.ascontiguousarray(image), scale=rng.uniform(0.45, 0.9), offset=offset)))
    return frames


LABELED_FACE_SIDE = 192
"""Smaller labelled images (FER's 48x48 crops) are upscaled to this side: a face about a metre from the camera."""


def labeled_frames(data: str | Path, per_class: int = 20, seed: int = 0) -> list[Frame]:
    """Up to `per_class` images per class of an ImageFolder, each centred on a 640x480 frame.

    Images smaller than `LABELED_FACE_SIDE` are upscaled to it first: a 48x48 face crop on a
    640x480 frame is smaller than any kiosk face, and YuNet misses half of them.
    """
    from fer_edge.dataset import limit_per_class

    folder = limit_per_class(scan_image_folder(data), per_class, seed)
    frames = []
    for path, label in folder.files:
        image = read_image(path)
        scale = max(1.0, LABELED_FACE_SIDE / min(image.shape[:2]))
        frames.append(Frame(on_canvas(image, scale=scale), folder.classes[label]))
    if not frames:
        raise DatasetError(f"no image in {data}")
    return frames


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentiles(values_ms: list[float]) -> dict[str, float]:
    """median, p90 and p99 of a list of milliseconds."""
    values = np.asarray(values_ms)
    return {"median": float(np.median(values)), "p90": float(np.percentile(values, 90)),
            "p99": float(np.percentile(values, 99))}


def _one_frame(pipeline: Pipeline, image: np.ndarray, geometry: CropGeometry) -> tuple[list[float], str | None]:
    prep = pipeline.classifier.metadata.preprocessing
    t0 = time.perf_counter()
    faces = pipeline.detector.detect(image)[:1]
    t1 = time.perf_counter()
    label = None
    if faces:
        pixels = crop_model_pixels(image, faces[0], prep, geometry)[np.newaxis]
        t2 = time.perf_counter()
        probabilities = pipeline.classifier.predict_pixels(pixels)
        label = pipeline.classifier.metadata.labels[int(np.argmax(probabilities[0]))]
    else:
        t2 = t1
    t3 = time.perf_counter()
    return [(t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3], label


ROUND_FRAMES = 10
"""Frames each pipeline times in a round before the next pipeline's turn (`measure_all`)."""


def measure(pipeline: Pipeline, frames: list[Frame], runs: int = 100, warmup: int = 10) -> BenchRecord:
    """Predict every frame once, then time `warmup` + `runs` frames (cycling) stage by stage."""
    return measure_all([pipeline], frames, runs, warmup)[0]


def measure_all(pipelines: list[Pipeline], frames: list[Frame], runs: int = 100, warmup: int = 10,
                progress: bool = False) -> list[BenchRecord]:
    """Time every pipeline on the same frames, side by side: in rounds that interleave the pipelines.

    Each pipeline predicts every frame once (its labels) and runs `warmup` frames untimed; then every round times
    `ROUND_FRAMES` frames of each pipeline in turn, after one untimed frame to warm it again, starting one pipeline
    further on each round. A change in the host's load during the run then falls on every pipeline alike, so the
    ratios between them hold even where the absolute times drift. Memory is the process's peak (every model is
    loaded throughout).

    Raises:
        FerEdgeError: no frame, or fewer than one timed frame.
    """
    from tqdm import tqdm

    if not frames or runs < 1 or warmup < 0:
        raise FerEdgeError(f"a benchmark needs frames and at least one timed run (got {len(frames)} frames, "
                           f"{runs} runs, {warmup} warm-up frames)")
    geometries = [framing_for(p.classifier.metadata, p.detector) for p in pipelines]
    predictions = [tuple(_one_frame(p, f.image, g)[1] for f in frames)
                   for p, g in tqdm(list(zip(pipelines, geometries)), desc="predict", unit="pipeline",
                                    disable=not progress)]
    for pipeline, geometry in zip(pipelines, geometries):
        for index in range(warmup):
            _one_frame(pipeline, frames[index % len(frames)].image, geometry)
    timings, peak = [[] for _ in pipelines], rss_mb()
    starts = range(0, runs, ROUND_FRAMES)
    for number, start in enumerate(tqdm(starts, desc="bench", unit="round", disable=not progress)):
        for turn in range(len(pipelines)):
            which = (turn + number) % len(pipelines)
            pipeline, geometry = pipelines[which], geometries[which]
            _one_frame(pipeline, frames[(warmup + start) % len(frames)].image, geometry)
            for index in range(warmup + start, warmup + min(runs, start + ROUND_FRAMES)):
                timings[which].append(_one_frame(pipeline, frames[index % len(frames)].image, geometry)[0])
        peak = max(peak, rss_mb())
    return [_record(p, t, peak, found) for p, t, found in zip(pipelines, timings, predictions)]


def _record(pipeline: Pipeline, timings: list[list[float]], peak: float, predictions: tuple) -> BenchRecord:
    columns = np.asarray(timings).T
    latency = {stage: percentiles(columns[i]) for i, stage in enumerate(STAGES)}
    found = float(np.mean([p is not None for p in predictions]))
    return BenchRecord(pipeline.name, pipeline.path, pipeline.precision, pipeline.threads,
                       pipeline.detector.name, pipeline.device, pipeline.size_bytes, latency, peak, found, predictions)


def score(records: list[BenchRecord], frames: list[Frame], reference: str | None) -> list[BenchRecord]:
    """Accuracy against frame labels when there are labels (matched by canonical name), else top-1
    agreement with `reference` (the first record when `reference` is None).

    A frame whose face was not found counts as wrong (accuracy) or as a disagreement.
    """
    labels = [frame.label for frame in frames]
    if all(label is not None for label in labels):
        truth = [canonical_label(label) for label in labels]  # "happy" is "happiness"
        return [replace(r, accuracy=float(np.mean([p is not None and canonical_label(p) == t
                                                   for p, t in zip(r.predictions, truth)])))
                for r in records]
    base = next((r for r in records if r.name == reference), records[0] if records else None)
    if base is None:
        return records
    return [replace(r, agreement=float(np.mean([p is not None and b is not None
                                                and canonical_label(p) == canonical_label(b)
                                                for p, b in zip(r.predictions, base.predictions)])))
            for r in records]


def pareto_front(records: list[BenchRecord]) -> list[BenchRecord]:
    """Records no other record beats on both latency (lower) and score (higher), fastest first."""
    def quality(r):
        return r.accuracy if r.accuracy is not None else (r.agreement or 0.0)

    ranked = sorted(records, key=lambda r: (r.latency_ms["end_to_end"]["median"], -quality(r)))
    front, best = [], -1.0
    for record in ranked:
        if quality(record) > best:
            front.append(record)
            best = quality(record)
    return front
