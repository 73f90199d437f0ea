"""Face extraction: an ImageFolder of photos -> an ImageFolder of face crops, cached by file hash.

Photos with no face are dropped (the paper's data cleansing) and listed in the report;
unreadable files are reported, never fatal. Every crop is written to a temporary file and
renamed into place, and recorded in `manifest.jsonl` only afterwards, so an interrupted
run resumes without duplicates or half-written files. The source tree is only read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator

from fer_edge.crops import crop_face
from fer_edge.errors import DatasetError, ImageDecodeError
from fer_edge.faces import DetectorOptions, create_detector
from fer_edge.images import decode_image_scaled, scan_image_folder
from fer_edge.files import append_line, ensure_folder, is_inside, open_append, write_atomic, write_json

logger = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
REPORT = "report.json"


@dataclass(frozen=True)
class ExtractOptions:
    """How faces are found and cropped.

    Attributes:
        detector: "mtcnn" (paper, workstation), "yunet" (device) or "none".
        size: side of the square crops written, in pixels (the model's input size).
        margin: crop margin around the box, as a fraction of its longer side
            (None: the detector's own, 0.2 for mtcnn/yunet, 0 for none).
        all_faces: keep every face (index suffix) instead of only the largest.
        workers: worker processes (each loads its own detector).
        detection: detector thresholds and limits.
    """

    detector: str = "mtcnn"
    size: int = 64
    margin: float | None = None
    all_faces: bool = False
    workers: int = 1
    detection: DetectorOptions = field(default_factory=DetectorOptions)


@dataclass(frozen=True)
class ExtractSummary:
    """Counts for this run, and totals from the manifest per class."""

    photos: int
    cached: int
    faces_kept: int
    no_face: int
    unreadable: int
    seconds: float
    per_class: dict[str, dict[str, int]]
    report_path: Path


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


RECORD_KEYS = frozenset({"class", "source_sha256", "status"})
"""Fields every manifest record has; a line without them is damaged."""


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Records of a manifest; damaged lines (a torn last line from a killed run, edited lines) are ignored."""
    if not path.exists():
        return []
    records, damaged = [], 0
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and RECORD_KEYS <= record.keys():
            records.append(record)
        elif line.strip():
            damaged += 1
    if damaged:
        logger.warning("ignoring %d damaged line(s) in %s", damaged, path)
    return records


def _crop_name(relative: Path, index: int | None) -> str:
    stem = "__".join(relative.with_suffix("").parts)
    return f"{stem}.png" if index is None else f"{stem}_{index}.png"


_DETECTOR = None


def _init_worker(options: ExtractOptions) -> None:
    global _DETECTOR
    _DETECTOR = create_detector(options.detector, options.detection)


def _process(task: tuple[Path, str, str, Path, Path, ExtractOptions]) -> list[dict[str, Any]]:
    """Detect and crop one photo; returns its manifest records (one per kept face, or one status)."""
    import cv2

    path, class_name, sha, relative, dst, options = task
    base = {"source": str(path), "source_sha256": sha, "class": class_name, "detector": options.detector}
    try:
        image, factor = decode_image_scaled(path.read_bytes(), str(path))
    except (ImageDecodeError, OSError) as exc:
        return [{**base, "status": "unreadable", "error": str(exc)}]
    faces = _DETECTOR.detect(image)
    if not faces:
        return [{**base, "status": "no_face"}]
    records = []
    for index, face in enumerate(faces if options.all_faces else faces[:1]):
        margin = _DETECTOR.crop_margin if options.margin is None else options.margin
        crop = crop_face(image, face, options.size, margin)
        out = dst / class_name / _crop_name(relative, index if options.all_faces else None)
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        write_atomic(out, encoded.tobytes())
        box = face.scaled(factor).to_dict()  # in the photo's own pixels, also when decoded reduced
        records.append({**base, "status": "kept", **box, "crop": str(out.relative_to(dst))})
    return records


def _check_folders(src: Path, dst: Path) -> None:
    if is_inside(dst, src):
        raise DatasetError(f"the output folder {dst} must not be inside the source folder {src}")


def _pending_tasks(src: Path, dst: Path, options: ExtractOptions, done: set[tuple[str, str]]):
    folder = scan_image_folder(src)
    tasks, cached = [], 0
    for path, label in folder.files:
        class_name = folder.classes[label]
        try:
            sha = file_sha256(path)
        except OSError as exc:
            logger.warning("cannot read %s: %s", path, exc)
            sha = "unreadable:" + str(path)
        if (class_name, sha) in done:
            cached += 1
            continue
        tasks.append((path, class_name, sha, path.relative_to(src / class_name), dst, options))
    return folder, tasks, cached


def _run_tasks(tasks, options: ExtractOptions) -> Iterator[list[dict[str, Any]]]:
    if options.workers <= 1:
        _init_worker(options)
        yield from map(_process, tasks)
        return
    with ProcessPoolExecutor(options.workers, mp_context=get_context("spawn"),
                             initializer=_init_worker, initargs=(options,)) as pool:
        yield from pool.map(_process, tasks, chunksize=4)


def extract_faces(src: str | Path, dst: str | Path, options: ExtractOptions = ExtractOptions(),
                  progress: bool = False) -> ExtractSummary:
    """Crop the faces of every photo under `src/<class>/` into `dst/<class>/`.

    Writes `dst/manifest.jsonl` (one JSON record per kept face or dropped photo: source,
    its SHA-256, box, score, landmarks, detector, crop path) and `dst/report.json`
    (counts per class). Photos already in the manifest are skipped.

    Raises:
        DatasetError: `src` is not an ImageFolder or `dst` lies inside it.
    """
    from tqdm import tqdm

    src, dst = Path(src), Path(dst)
    _check_folders(src, dst)
    manifest_path = dst / MANIFEST
    done = {(r["class"], r["source_sha256"]) for r in read_manifest(manifest_path)}
    folder, tasks, cached = _pending_tasks(src, dst, options, done)
    for name in folder.classes:
        ensure_folder(dst / name)
    start, counts = time.perf_counter(), Counter()
    with open_append(manifest_path) as manifest:
        for records in tqdm(_run_tasks(tasks, options), total=len(tasks), desc="extract faces",
                            unit="photo", disable=not progress):
            if records:
                append_line(manifest, "\n".join(json.dumps(record) for record in records))
            counts.update(record["status"] for record in records)
            os.fsync(manifest.fileno())
    per_class = write_report(dst)
    return ExtractSummary(len(tasks), cached, counts["kept"], counts["no_face"], counts["unreadable"],
                          time.perf_counter() - start, per_class, dst / REPORT)


def write_report(dst: Path) -> dict[str, dict[str, int]]:
    """Totals per class from the manifest (photos, faces kept, no face, unreadable) into report.json."""
    records = read_manifest(dst / MANIFEST)
    per_class: dict[str, Counter] = defaultdict(Counter)
    photos: dict[str, set] = defaultdict(set)
    for record in records:
        per_class[record["class"]][record["status"]] += 1
        photos[record["class"]].add(record["source_sha256"])
    table = {name: {"photos": len(photos[name]), "faces_kept": c["kept"], "no_face": c["no_face"],
                    "unreadable": c["unreadable"]} for name, c in sorted(per_class.items())}
    report = {"per_class": table,
              "no_face": sorted(r["source"] for r in records if r["status"] == "no_face"),
              "unreadable": sorted(r["source"] for r in records if r["status"] == "unreadable")}
    write_json(dst / REPORT, report)
    return table
