"""Resuming an interrupted run: matching options, whole checkpoints, one history row per epoch; empty val splits."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from fer_edge.errors import DatasetError, FerEdgeError
from fer_edge.synthetic import write_synthetic_dataset
from fer_edge.train import training
from fer_edge.train.checkpoints import ResumedEarlyStopping, stream_seed
from fer_edge.train.training import TrainOptions, read_history, train
from test_training import FAST, interrupt_after_two_epochs


@pytest.fixture
def interrupted(synthetic_faces, tmp_path, monkeypatch):
    """A run killed at the start of its third epoch (two epochs in history and checkpoint)."""
    run, options = tmp_path / "run", TrainOptions(**{**FAST, "epochs": 4})
    interrupt_after_two_epochs(synthetic_faces, run, options, monkeypatch)
    return synthetic_faces, run, options


@pytest.mark.parametrize("change, message", [({"image_size": 48}, "--image-size 32 -> 48"),
                                             ({"arch": "sepnet"}, "--arch 'tiny_test_cnn' -> 'sepnet'"),
                                             ({"ema": 0.999}, "--ema 0.0 -> 0.999")])
def test_resume_refuses_other_options(interrupted, change, message):
    data, run, options = interrupted
    with pytest.raises(FerEdgeError, match=f"with other options: {message}"):
        train(data, run, dataclasses.replace(options, **change), resume=True)
    assert len(read_history(run / "history.csv")["loss"]) == 2  # nothing was touched


def test_resume_of_a_run_saved_before_an_option_existed(interrupted):
    data, run, options = interrupted
    saved = json.loads((run / "options.json").read_text())
    del saved["ema"]
    (run / "options.json").write_text(json.dumps(saved))
    with pytest.raises(FerEdgeError, match="--ema 0.0 -> 0.9"):  # a missing option counts as its default
        train(data, run, dataclasses.replace(options, ema=0.9), resume=True)
    assert len(train(data, run, options, resume=True).history["loss"]) == options.epochs


def test_resume_of_a_run_saved_when_augment_was_true_or_false(interrupted):
    data, run, options = interrupted  # FAST trains with augment=False, now "none"
    saved = json.loads((run / "options.json").read_text())
    assert saved["augment"] == "none"
    (run / "options.json").write_text(json.dumps({**saved, "augment": False}))
    with pytest.raises(FerEdgeError, match="--augment 'none' -> 'flip'"):
        train(data, run, dataclasses.replace(options, augment="flip"), resume=True)
    assert len(train(data, run, options, resume=True).history["loss"]) == options.epochs


@pytest.mark.parametrize("damage, message", [
    (lambda b: (b / "latest.weights.h5").write_bytes((b / "latest.weights.h5").read_bytes()[:500]), "weights"),
    (lambda b: (b / "latest.weights.h5").write_bytes(b""), "weights"),
    (lambda b: (b / "training_metadata.json").write_text('{"epoch": '), "is damaged"),
    (lambda b: (b / "training_metadata.json").write_text('{"epoch": "two"}'), "is damaged"),
    (lambda b: (b / "training_metadata.json").unlink(), "is missing"),
])
def test_resume_refuses_a_damaged_checkpoint_with_what_to_do(interrupted, damage, message):
    data, run, options = interrupted
    damage(run / "backup")
    with pytest.raises(FerEdgeError, match=f"(?s)cannot resume.*{message}.*delete the run folder"):
        train(data, run, options, resume=True)


def test_resume_refuses_a_history_that_lost_rows(interrupted):
    data, run, options = interrupted
    (run / "history.csv").unlink()
    with pytest.raises(FerEdgeError, match="records 0 epoch.* holds 2: the history was lost"):
        train(data, run, options, resume=True)


def test_resume_drops_rows_after_the_checkpoint_so_no_epoch_repeats(interrupted):
    data, run, options = interrupted
    lines = (run / "history.csv").read_text().splitlines()
    (run / "history.csv").write_text("\n".join([*lines, lines[-1].replace("1,", "2,", 1)]) + "\n")  # a row, no checkpoint
    result = train(data, run, options, resume=True)
    assert [int(e) for e in result.history["epoch"]] == [0, 1, 2, 3]


def test_an_empty_validation_split_is_refused_before_training(tmp_path):
    data = write_synthetic_dataset(tmp_path / "one", per_class=1, size=32, classes=("happy", "sad"))
    with pytest.raises(DatasetError, match="no validation images"):
        train(data, tmp_path / "run", TrainOptions(**FAST))
    assert not (tmp_path / "run" / "best.keras").exists()


@pytest.mark.parametrize("inside", ["run", "train/run", "."])
def test_a_run_folder_inside_the_data_is_refused_before_anything_is_written(synthetic_faces, inside):
    before = sorted(p.relative_to(synthetic_faces) for p in synthetic_faces.rglob("*"))
    with pytest.raises(DatasetError, match="--out .* is inside the data folder .*: its files would be read as a class"):
        train(synthetic_faces, synthetic_faces / inside, TrainOptions(**FAST))
    assert sorted(p.relative_to(synthetic_faces) for p in synthetic_faces.rglob("*")) == before


def _first_training_batch(monkeypatch):
    """Record the pixels of the first batch each run's training stream yields."""
    seen, original = [], training.make_dataset

    def spy(split, prep, num_classes, batch_size, is_training, *args, **kwargs):
        data = original(split, prep, num_classes, batch_size, is_training, *args, **kwargs)
        if is_training:
            seen.append(next(iter(data))[0].numpy())
        return data

    monkeypatch.setattr(training, "make_dataset", spy)
    return seen


def test_a_resumed_run_does_not_replay_the_first_epochs_batches(synthetic_faces, tmp_path, monkeypatch):
    """A fresh process used to restart every random stream: each resumption trained on epoch 1's batches again."""
    import shutil

    seen = _first_training_batch(monkeypatch)
    run, options = tmp_path / "run", TrainOptions(**{**FAST, "epochs": 4, "augment": True})
    interrupt_after_two_epochs(synthetic_faces, run, options, monkeypatch)
    shutil.copytree(run, tmp_path / "copy")
    train(synthetic_faces, run, options, resume=True)
    train(synthetic_faces, tmp_path / "copy", options, resume=True)
    fresh, resumed, resumed_again = seen
    assert fresh.shape == resumed.shape and not np.array_equal(fresh, resumed)
    np.testing.assert_array_equal(resumed, resumed_again)  # reproducible from the seed and the epoch


def test_stream_seeds():
    assert stream_seed(42, 0) == 42
    assert len({stream_seed(42, epoch) for epoch in range(1, 200)} | {42}) == 200
    assert stream_seed(42, 7) == stream_seed(42, 7) != stream_seed(43, 7)


def _stopper(previous, patience=3):
    import keras

    stopper = ResumedEarlyStopping("val_accuracy", patience, previous)
    stopper.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    stopper.model.stop_training = False  # as fit sets it
    stopper.on_train_begin()
    return stopper


def test_early_stopping_patience_counts_the_epochs_before_the_interruption():
    stopper = _stopper([0.5, 0.7, 0.6, 0.7])  # best at epoch 1 (a tie is no improvement): 2 epochs without one
    assert (stopper.best, stopper.best_epoch, stopper.wait) == (0.7, 1, 2)
    stopper.on_epoch_end(4, {"val_accuracy": 0.69})
    assert stopper.model.stop_training and stopper.stopped_epoch == 4  # where an uninterrupted run stops
    stopper = _stopper([0.5, 0.7, 0.6, 0.7])
    stopper.on_epoch_end(4, {"val_accuracy": 0.71})
    assert not stopper.model.stop_training and (stopper.best, stopper.wait) == (0.71, 0)
    fresh = _stopper([])
    assert (fresh.best, fresh.wait) == (None, 0)
    fresh.on_epoch_end(0, {"val_accuracy": 0.2})
    assert not fresh.model.stop_training and fresh.best == 0.2


def test_resumed_runs_get_the_history_aware_early_stopping(interrupted):
    data, run, options = interrupted
    callbacks = training._callbacks(run, dataclasses.replace(options, early_stopping=5), True,
                                    training.ThroughputLogger(1))
    stopper = next(c for c in callbacks if isinstance(c, ResumedEarlyStopping))
    assert stopper.previous == read_history(run / "history.csv")["val_accuracy"] and len(stopper.previous) == 2
