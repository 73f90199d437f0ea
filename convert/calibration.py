"""Calibration data for int8: real face crops through the shared preprocessing, stratified and seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_edge.dataset import has_split_folders, limit_per_class, load_folder, stratified_indices
from fer_edge.errors import DatasetError
from fer_edge.images import scan_image_folder
from fer_edge.preprocess import Preprocessing


def calibration_pixels(data: str | Path, prep: Preprocessing, samples: int = 300, seed: int = 0) -> np.ndarray:
    """About `samples` uint8 model pixels drawn from the ImageFolder `data`, stratified by class.

    With split folders (`data/train/...`) the training split is used.

    Raises:
        DatasetError: `data` is missing, empty or has no usable image.
    """
    if samples < 1:
        raise DatasetError(f"calibration needs at least 1 sample, got {samples}")
    data = Path(data)
    folder = scan_image_folder(data / "train" if has_split_folders(data) else data)
    if not folder.files:
        raise DatasetError(f"no calibration image in {folder.root}")
    split, _ = load_folder(limit_per_class(folder, samples, seed), prep)
    if len(split) <= samples:
        return split.pixels
    _, chosen = stratified_indices(split.labels, (samples / len(split),), seed)
    return split.pixels[chosen]
