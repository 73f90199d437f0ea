"""Dataset loading: splits, stratification, skipped files and a source folder left untouched."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import tree_snapshot, write_broken_files
from fer_edge.dataset import load_dataset, load_labeled_folder, stratified_indices
from fer_edge.errors import DatasetError
from fer_edge.preprocess import Preprocessing
from fer_edge.synthetic import write_synthetic_dataset

PREP = Preprocessing((32, 32))


@pytest.fixture()
def flat_folder(tmp_path):
    return write_synthetic_dataset(tmp_path / "flat", per_class=20, size=40, classes=("happy", "sad"))


def test_split_folders_are_used_as_splits(synthetic_faces):
    dataset = load_dataset(synthetic_faces, PREP)
    assert dataset.classes == ("happy", "sad", "surprise")
    assert len(dataset.splits["train"]) == 120 and len(dataset.splits["val"]) == 30
    assert "test" not in dataset.splits
    assert dataset.splits["train"].pixels.shape == (120, 32, 32, 3)
    assert dataset.splits["train"].pixels.dtype == np.uint8
    assert np.bincount(dataset.splits["val"].labels).tolist() == [10, 10, 10]


def test_stratified_split_is_seeded_and_disjoint(flat_folder):
    first = load_dataset(flat_folder, PREP, val_fraction=0.25, test_fraction=0.25, seed=7)
    again = load_dataset(flat_folder, PREP, val_fraction=0.25, test_fraction=0.25, seed=7)
    other = load_dataset(flat_folder, PREP, val_fraction=0.25, test_fraction=0.25, seed=8)
    names = {k: {p.name + str(l) for p, l in zip(s.paths, s.labels)} for k, s in first.splits.items()}
    assert [len(first.splits[k]) for k in ("train", "val", "test")] == [20, 10, 10]
    assert not (names["train"] & names["val"]) and not (names["val"] & names["test"])
    assert np.bincount(first.splits["val"].labels).tolist() == [5, 5]
    assert first.splits["val"].paths == again.splits["val"].paths
    assert first.splits["val"].paths != other.splits["val"].paths


def test_stratified_indices_keep_one_of_each_small_class():
    labels = np.array([0] * 10 + [1] * 2)
    rest, val = stratified_indices(labels, (0.1,), seed=0)
    assert sorted(labels[val].tolist()) == [0, 1]
    assert len(rest) + len(val) == 12


def test_unreadable_files_are_skipped_counted_and_source_untouched(flat_folder, caplog):
    broken = write_broken_files(flat_folder / "sad")
    before = tree_snapshot(flat_folder)
    dataset = load_dataset(flat_folder, PREP, val_fraction=0.2)
    assert len(dataset.skipped) == len(broken)
    assert {s.path for s in dataset.skipped} == set(broken.values())
    assert sum(len(s) for s in dataset.splits.values()) == 40
    assert sum("skipped" in r.message for r in caplog.records) == len(broken)
    assert tree_snapshot(flat_folder) == before


def test_class_without_usable_image_is_named(flat_folder):
    shutil.rmtree(flat_folder / "sad")
    write_broken_files(flat_folder / "sad")
    with pytest.raises(DatasetError, match="no usable image.*sad"):
        load_dataset(flat_folder, PREP)


def test_split_class_mismatch_is_an_error(synthetic_faces, tmp_path):
    copy = shutil.copytree(synthetic_faces, tmp_path / "copy")
    shutil.rmtree(copy / "val" / "sad")
    with pytest.raises(DatasetError, match="has classes"):
        load_dataset(copy, PREP)


def test_max_per_class_limits_training_files(synthetic_faces):
    dataset = load_dataset(synthetic_faces, PREP, max_per_class=4)
    assert np.bincount(dataset.splits["train"].labels).tolist() == [4, 4, 4]
    assert len(dataset.splits["val"]) == 30


@pytest.mark.parametrize("fractions", [(1.0, 0.0), (0.6, 0.5), (-0.1, 0.0)])
def test_bad_fractions(flat_folder, fractions):
    with pytest.raises(DatasetError, match="fractions"):
        load_dataset(flat_folder, PREP, *fractions)


def test_labeled_folder_grayscale(flat_folder):
    classes, split, skipped = load_labeled_folder(flat_folder, Preprocessing((24, 24), "grayscale"))
    assert classes == ("happy", "sad") and split.pixels.shape == (40, 24, 24, 1) and skipped == ()


@pytest.mark.parametrize("layout", ["split folders", "one folder"])
def test_probability_targets_need_votes(synthetic_faces, flat_folder, layout):
    """Folder labels have no vote shares: soft targets there would silently be one-hot, so they are refused."""
    root = synthetic_faces if layout == "split folders" else flat_folder
    with pytest.raises(DatasetError, match=r"needs annotators' votes \(a label.csv in .*train.*use --label-mode "
                                           "majority"):
        load_dataset(root, PREP, label_mode="probability")
    assert len(load_dataset(root, PREP, label_mode="majority").splits["train"]) > 0


def test_a_missing_folder_is_reported_as_missing_whatever_the_label_mode(tmp_path):
    for mode in ("majority", "probability"):
        with pytest.raises(DatasetError, match="dataset folder not found"):
            load_dataset(tmp_path / "nope", PREP, label_mode=mode)
