"""Resuming an interrupted run: matching options, whole checkpoints, one history row per epoch; empty val splits."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fer_edge.errors import DatasetError, FerEdgeError
from fer_edge.synthetic import write_synthetic_dataset
from fer_edge.train import training
from fer_edge.train.training import TrainOptions, read_history, train
from test_training import FAST, InterruptAtEpoch


@pytest.fixture
def interrupted(synthetic_faces, tmp_path, monkeypatch):
    """A run killed at the start of its third epoch (two epochs in history and checkpoint)."""
    run, options = tmp_path / "run", TrainOptions(**{**FAST, "epochs": 4})
    original = training._callbacks
    monkeypatch.setattr(training, "_callbacks", lambda *a: original(*a) + [InterruptAtEpoch(2)])
    with pytest.raises(KeyboardInterrupt):
        train(synthetic_faces, run, options)
    monkeypatch.setattr(training, "_callbacks", original)
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
