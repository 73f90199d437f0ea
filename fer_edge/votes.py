"""Vote-labelled faces (FER+): a folder of images plus `label.csv` annotator votes -> labels or soft targets."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.errors import DatasetError

logger = logging.getLogger(__name__)

VOTE_FILE = "label.csv"
EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
"""FER+'s emotion columns, in the order of its `label.csv`; they are the labels of a vote folder."""
VOTE_COLUMNS = (*EMOTIONS, "unknown", "NF")
LABEL_MODES = ("majority", "probability")
NO_LABEL = -1


@dataclass(frozen=True)
class VoteTable:
    """The votes of one `label.csv`.

    Attributes:
        folder: the folder that holds the images and `label.csv`.
        files: image file names, in the order of the rows.
        votes: int (N, 10) vote counts in the order of `VOTE_COLUMNS`.
    """

    folder: Path
    files: tuple[str, ...]
    votes: np.ndarray


def is_vote_folder(folder: str | Path) -> bool:
    """True when `folder` holds a `label.csv` vote file (FER+ layout)."""
    return (Path(folder) / VOTE_FILE).is_file()


def _parse_row(row: list[str], line: int, path: Path) -> tuple[str, list[int]]:
    if len(row) != 2 + len(VOTE_COLUMNS):
        raise DatasetError(f"{path}:{line}: expected file, box and {len(VOTE_COLUMNS)} vote counts, "
                           f"got {len(row)} fields")
    try:
        counts = [int(value) for value in row[2:]]
    except ValueError:
        raise DatasetError(f"{path}:{line}: vote counts must be integers, got {row[2:]}") from None
    if min(counts) < 0 or sum(counts) == 0:
        raise DatasetError(f"{path}:{line}: vote counts must be non-negative with at least one vote")
    name = row[0].strip()
    if not name or Path(name).name != name:
        raise DatasetError(f"{path}:{line}: bad image file name {name!r}")
    return name, counts


def read_votes(folder: str | Path) -> VoteTable:
    """Read `folder/label.csv`: `file, "(x, y, w, h)", neutral, happiness, ..., contempt, unknown, NF`.

    Raises:
        DatasetError: the file is missing, empty or has a malformed row (the message names the line).
    """
    folder = Path(folder)
    path = folder / VOTE_FILE
    try:
        with path.open(newline="") as handle:
            rows = [(line, row) for line, row in enumerate(csv.reader(handle), start=1) if row]
    except OSError as exc:
        raise DatasetError(f"cannot read vote file {path}: {exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path} is not a CSV vote file: {exc}") from exc
    if not rows:
        raise DatasetError(f"{path} has no rows")
    parsed = [_parse_row(row, line, path) for line, row in rows]
    return VoteTable(folder, tuple(name for name, _ in parsed), np.array([c for _, c in parsed], np.int64))


def _without_stray_votes(votes: np.ndarray) -> np.ndarray:
    """FER+'s outlier rule: an emotion with a single vote gets none."""
    return np.where(votes <= 1, 0, votes)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """FER+ majority protocol: the emotion with more than half of the votes (stray single votes dropped).

    Returns:
        int64 (N,) indices into `EMOTIONS`; `NO_LABEL` where no emotion has a majority or the
        majority is unknown / not a face.
    """
    kept = _without_stray_votes(np.asarray(votes))
    top = kept.argmax(axis=1)
    has_majority = kept[np.arange(len(kept)), top] * 2 > kept.sum(axis=1)
    return np.where(has_majority & (top < len(EMOTIONS)), top, NO_LABEL).astype(np.int64)


def vote_distributions(votes: np.ndarray) -> np.ndarray:
    """FER+ probability protocol: each face's emotion votes (stray votes dropped) as a distribution.

    Returns:
        float32 (N, 8); a row of NaN where emotions hold at most half of the face's remaining
        votes (mostly unknown / not a face): such faces are not used.
    """
    kept = _without_stray_votes(np.asarray(votes)).astype(np.float64)
    emotion = kept[:, :len(EMOTIONS)]
    usable = emotion.sum(axis=1) * 2 > kept.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = emotion / emotion.sum(axis=1, keepdims=True)
    dist[~usable] = np.nan
    return dist.astype(np.float32)


def targets_for(table: VoteTable, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(row indices of the usable faces, their targets): int labels (majority) or (n, 8) floats (probability).

    Raises:
        DatasetError: unknown mode, or no face is usable.
    """
    if mode not in LABEL_MODES:
        raise DatasetError(f"label mode must be one of {LABEL_MODES}, got {mode!r}")
    if mode == "majority":
        labels = majority_labels(table.votes)
        rows = np.flatnonzero(labels != NO_LABEL)
        targets = labels[rows]
    else:
        dist = vote_distributions(table.votes)
        rows = np.flatnonzero(~np.isnan(dist[:, 0]))
        targets = dist[rows]
    if len(rows) == 0:
        raise DatasetError(f"no face in {table.folder / VOTE_FILE} has usable {mode} votes")
    logger.info("%s: %d of %d faces have usable %s votes", table.folder, len(rows), len(table.files), mode)
    return rows, targets
