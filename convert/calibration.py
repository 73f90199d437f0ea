"""Calibration data for int8: real face crops through the shared preprocessing, stratified and seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_edge.dataset import has_split_folders, load_split, stratified_indices
from fer_edge.errors import DatasetError
from fer_edge.preprocess import Preprocessing


def calibration_pixels(data: str | Path, prep: Preprocessing, samples: int = 300, seed: int = 0) -> np.ndarray:
    """About `samples` uint8 model pixels drawn from `data`, stratified by class.

    `data` is an ImageFolder or a vote folder (FER+, by majority label); with split folders
    (`data/train/...`) the training split is used.

    Raises:
        DatasetError: `data` is missing, empty or has no usable image.
    """
    if samples < 1:
        raise DatasetError(f"calibration needs at least 1 sample, got {samples}")
    data = Path(data)
    _, split, _ = load_split(data / "train" if has_split_folders(data) else data, prep, max_per_class=samples,
                             seed=seed)
    if len(split) <= samples:
        return split.pixels
    _, chosen = stratified_indices(split.labels, (samples / len(split),), seed)
    if len(chosen) < samples // 2:  # classes too small to stratify: a seeded draw over all faces
        chosen = np.sort(np.random.default_rng(seed).permutation(len(split))[:samples])
    return split.pixels[chosen]
