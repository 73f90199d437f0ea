"""Dataset: ImageFolder trees decoded once into uint8 model pixels, split into train/val/test."""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge import votes
from fer_edge.errors import DatasetError, ImageDecodeError
from fer_edge.images import ImageFolder, read_image, scan_image_folder
from fer_edge.preprocess import Preprocessing, to_model_pixels

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "val", "test")
SPLIT_ALIASES = {"valid": "val"}
"""Other folder names accepted for a split (FER+ calls its validation folder `valid/`)."""


@dataclass(frozen=True)
class Split:
    """Decoded images of one split.

    Attributes:
        pixels: uint8 (N, H, W, C) model pixels (resized, colour-converted).
        labels: int64 (N,) class indices into the dataset's `classes` (for soft targets: their argmax).
        paths: source file of each image.
        targets: float32 (N, classes) soft targets (e.g. annotator vote shares), or None for hard labels.
    """

    pixels: np.ndarray
    labels: np.ndarray
    paths: tuple[Path, ...]
    targets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> "Split":
        """The images at `indices`, in that order."""
        targets = None if self.targets is None else self.targets[indices]
        return Split(self.pixels[indices], self.labels[indices], tuple(self.paths[i] for i in indices), targets)

    def target_matrix(self, num_classes: int) -> np.ndarray:
        """float32 (N, num_classes): the soft targets, or one-hot labels."""
        if self.targets is not None:
            return self.targets.astype(np.float32)
        return np.eye(num_classes, dtype=np.float32)[self.labels]


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Dataset:
    """A dataset ready for training or evaluation.

    Attributes:
        classes: class names (from folder names), index = label.
        splits: split name -> Split; always has "train", "val" may be empty, "test" optional.
        skipped: unreadable files, each with its reason.
    """

    classes: tuple[str, ...]
    splits: dict[str, Split]
    skipped: tuple[Skipped, ...]


def _decode(path: Path, prep: Preprocessing) -> np.ndarray | str:
    try:
        return to_model_pixels(read_image(path), prep)
    except ImageDecodeError as exc:
        return str(exc)


def load_folder(
    folder: ImageFolder, prep: Preprocessing, workers: int = 4, progress: bool = False
) -> tuple[Split, tuple[Skipped, ...]]:
    """Decode every file of a scanned ImageFolder; unreadable files are skipped and reported.

    Raises:
        DatasetError: a class folder has no usable image.
    """
    paths = [path for path, _ in folder.files]
    keep, pixels, skipped = decode_files(paths, prep, workers, progress, f"decode {folder.root.name}")
    labels = np.array([folder.files[i][1] for i in keep], dtype=np.int64)
    _require_every_class(folder.root, folder.classes, labels)
    return Split(pixels, labels, tuple(paths[i] for i in keep)), skipped


def decode_files(paths: list[Path], prep: Preprocessing, workers: int = 4, progress: bool = False,
                 desc: str = "decode") -> tuple[list[int], np.ndarray, tuple[Skipped, ...]]:
    """Decode files to model pixels in threads: (indices of the readable ones, their pixels, skipped files)."""
    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(tqdm(pool.map(lambda p: _decode(p, prep), paths), total=len(paths),
                            desc=desc, unit="img", disable=not progress, leave=False))
    keep = [i for i, result in enumerate(results) if not isinstance(result, str)]
    skipped = tuple(Skipped(paths[i], results[i]) for i in range(len(paths)) if isinstance(results[i], str))
    for item in skipped:
        logger.warning("skipped %s", item.reason)
    empty = np.zeros((0, *prep.input_shape), np.uint8)
    pixels = np.stack([results[i] for i in keep]).astype(np.uint8) if keep else empty
    return keep, pixels, skipped


def load_vote_folder(folder: str | Path, prep: Preprocessing, mode: str = "majority", workers: int = 4,
                     progress: bool = False) -> tuple[Split, tuple[Skipped, ...]]:
    """Decode a vote-labelled folder (FER+: images plus `label.csv`); labels are `votes.EMOTIONS`.

    Args:
        mode: "majority" (hard labels; faces without a majority are left out) or
            "probability" (soft targets: each face's share of votes per emotion).

    Raises:
        DatasetError: a bad vote file, or an emotion with no usable face.
    """
    table = votes.read_votes(folder)
    rows, targets = votes.targets_for(table, mode)
    paths = [table.folder / table.files[row] for row in rows]
    keep, pixels, skipped = decode_files(paths, prep, workers, progress, f"decode {table.folder.name}")
    targets = targets[keep]
    soft = targets.astype(np.float32) if mode == "probability" else None
    labels = targets.argmax(axis=1).astype(np.int64) if soft is not None else targets.astype(np.int64)
    _require_every_class(table.folder, votes.EMOTIONS, labels)
    return Split(pixels, labels, tuple(paths[i] for i in keep), soft), skipped


def _require_every_class(root: Path, classes: tuple[str, ...], labels: np.ndarray) -> None:
    counts = Counter(labels.tolist())
    empty = [name for index, name in enumerate(classes) if counts[index] == 0]
    if empty:
        raise DatasetError(f"class(es) with no usable image in {root}: {', '.join(empty)}")


def stratified_indices(
    labels: np.ndarray, fractions: tuple[float, ...], seed: int
) -> list[np.ndarray]:
    """Split indices per class with a fixed seed: one array per fraction, then the rest first.

    Returns `[rest, part_1, part_2, ...]` where part_k holds about `fractions[k]` of
    each class (at least one image of a class when the class has more than one).
    """
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for k, fraction in enumerate(fractions, start=1):
            count = int(round(fraction * len(members)))
            if fraction > 0 and len(members) > 1:
                count = max(1, count)
            parts[k].extend(members[start:start + count])
            start += count
        parts[0].extend(members[start:])
    return [np.sort(np.array(part, dtype=np.int64)) for part in parts]


def limit_per_class(folder: ImageFolder, limit: int, seed: int) -> ImageFolder:
    """Keep at most `limit` files per class, drawn with `seed` (0 keeps everything)."""
    if limit <= 0:
        return folder
    rng = np.random.default_rng(seed)
    kept: list[tuple[Path, int]] = []
    for index in range(len(folder.classes)):
        members = [item for item in folder.files if item[1] == index]
        chosen = sorted(rng.permutation(len(members))[:limit])
        kept.extend(members[i] for i in chosen)
    return ImageFolder(folder.root, folder.classes, tuple(kept))


def has_split_folders(root: str | Path) -> bool:
    """True when `root` holds a `train/` folder (and maybe `val/` or `valid/`, `test/`) instead of classes."""
    return (Path(root) / "train").is_dir()


def split_folder(root: str | Path, split: str) -> Path | None:
    """The folder of `split` ("train", "val", "test") in `root`, under its name or an alias; None if absent."""
    names = [split, *(alias for alias, target in SPLIT_ALIASES.items() if target == split)]
    return next((Path(root) / name for name in names if (Path(root) / name).is_dir()), None)


def check_label_mode(root: str | Path, label_mode: str) -> None:
    """Refuse soft targets where the training split has no annotators' votes (they would silently be one-hot).

    Raises:
        DatasetError: `label_mode` is "probability" and `root`'s training faces carry folder labels only.
    """
    if label_mode != "probability" or not Path(root).is_dir():
        return  # a missing folder is the loader's error to report
    train_folder = split_folder(root, "train") if has_split_folders(root) else None
    if train_folder is None or not votes.is_vote_folder(train_folder):
        raise DatasetError(f"--label-mode probability needs annotators' votes (a {votes.VOTE_FILE} in "
                           f"{Path(root) / 'train'}, as FER+ has); {root} has folder labels only: "
                           "use --label-mode majority")


def load_dataset(
    root: str | Path,
    prep: Preprocessing,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 42,
    workers: int = 4,
    progress: bool = False,
    max_per_class: int = 0,
    label_mode: str = "majority",
) -> Dataset:
    """Load an ImageFolder or vote-labelled dataset with its splits.

    With `root/train/` (and optional `val/` or `valid/`, `test/`) the folders are the splits;
    otherwise `root/<class>/` is split per class with `seed`. A split folder holding a
    `label.csv` vote file (FER+) is read with `fer_edge.votes`: the training split by
    `label_mode` ("majority" or "probability" soft targets), the others by majority.
    With `max_per_class` at most that many training images per class are used.
    Nothing in `root` is written.

    Raises:
        DatasetError: missing folders, no usable image in a class, split folders
            whose classes differ from `train/`, or "probability" without votes.
    """
    check_label_mode(root, label_mode)
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DatasetError(f"bad split fractions: val={val_fraction}, test={test_fraction}")
    root = Path(root)
    if has_split_folders(root):
        return _load_split_folders(root, prep, workers, progress, max_per_class, seed, label_mode)
    folder = limit_per_class(scan_image_folder(root), max_per_class, seed)
    everything, skipped = load_folder(folder, prep, workers, progress)
    rest, val, test = stratified_indices(everything.labels, (val_fraction, test_fraction), seed)
    splits = {"train": everything.subset(rest), "val": everything.subset(val)}
    if test_fraction > 0:
        splits["test"] = everything.subset(test)
    return Dataset(folder.classes, splits, skipped)


def _limit_split(split: Split, limit: int, seed: int) -> Split:
    """At most `limit` images per class, drawn with `seed` (0 keeps everything)."""
    if limit <= 0:
        return split
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(split.labels == c))[:limit] for c in np.unique(split.labels)]
    return split.subset(np.sort(np.concatenate(chosen)))


def load_split(folder: Path, prep: Preprocessing, workers: int = 4, progress: bool = False,
               label_mode: str = "majority", max_per_class: int = 0, seed: int = 42,
               ) -> tuple[tuple[str, ...], Split, tuple[Skipped, ...]]:
    """One split folder, ImageFolder or vote-labelled: (classes, split, skipped files)."""
    if votes.is_vote_folder(folder):
        split, skipped = load_vote_folder(folder, prep, label_mode, workers, progress)
        return votes.EMOTIONS, _limit_split(split, max_per_class, seed), skipped
    scanned = limit_per_class(scan_image_folder(folder), max_per_class, seed)
    split, skipped = load_folder(scanned, prep, workers, progress)
    return scanned.classes, split, skipped


def _load_split_folders(root: Path, prep: Preprocessing, workers: int, progress: bool, max_per_class: int,
                        seed: int, label_mode: str) -> Dataset:
    splits: dict[str, Split] = {}
    skipped: list[Skipped] = []
    classes: tuple[str, ...] = ()
    for name in SPLIT_NAMES:
        folder = split_folder(root, name)
        if folder is None:
            continue
        training = name == "train"
        split_classes, splits[name], split_skipped = load_split(
            folder, prep, workers, progress, label_mode if training else "majority",
            max_per_class if training else 0, seed)
        if training:
            classes = split_classes
        elif split_classes != classes:
            raise DatasetError(f"{folder} has classes {list(split_classes)} but {root / 'train'} has {list(classes)}")
        skipped.extend(split_skipped)
    splits.setdefault("val", Split(np.zeros((0, *prep.input_shape), np.uint8), np.zeros(0, np.int64), ()))
    return Dataset(classes, splits, tuple(skipped))


def load_labeled_folder(
    root: str | Path, prep: Preprocessing, workers: int = 4, progress: bool = False
) -> tuple[tuple[str, ...], Split, tuple[Skipped, ...]]:
    """Load one labelled folder without splitting (ImageFolder, or vote folder by majority), e.g. to evaluate."""
    return load_split(Path(root), prep, workers, progress)
