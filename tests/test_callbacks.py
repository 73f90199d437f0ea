"""Training callbacks: the best-epoch checkpoint saves only improvements, from a resumed run's best, without the
optimizer's state; the history file reads back."""

from __future__ import annotations

import io
import logging
import zipfile

import h5py
import keras
import numpy as np
import pytest

from fer_edge.train.callbacks import BestModelCheckpoint, MeanMetric, read_history
from fer_edge.train.radam import RAdam


def trained_model() -> tuple[keras.Model, np.ndarray]:
    """A compiled two-class model after one step: its optimizer has slots to leave out."""
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    model.compile(optimizer=RAdam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    pixels = np.random.default_rng(0).random((8, 4, 4, 1), dtype=np.float32)
    model.fit(pixels, np.arange(8) % 2, epochs=1, batch_size=8, verbose=0)
    return model, pixels


def epoch_end(checkpoint: BestModelCheckpoint, model: keras.Model, epoch: int, logs: dict, scale: float) -> None:
    """Sets the model's weights to a recognizable value, then ends the epoch with `logs`."""
    model.set_weights([np.full_like(w, scale) for w in model.get_weights()])
    checkpoint.on_epoch_end(epoch, logs)


def saved_kernel(path) -> float:
    return float(keras.saving.load_model(path, compile=False).get_weights()[0].flat[0])


def test_saves_each_improvement_and_nothing_else(tmp_path):
    model, _ = trained_model()
    checkpoint = BestModelCheckpoint(tmp_path / "best.keras", "val_accuracy")
    checkpoint.set_model(model)
    epoch_end(checkpoint, model, 0, {"val_accuracy": 0.40}, 1.0)
    assert saved_kernel(tmp_path / "best.keras") == 1.0
    epoch_end(checkpoint, model, 1, {"val_accuracy": 0.55}, 2.0)
    epoch_end(checkpoint, model, 2, {"val_accuracy": 0.55}, 3.0)  # a tie is not an improvement
    epoch_end(checkpoint, model, 3, {"val_accuracy": 0.50}, 4.0)
    epoch_end(checkpoint, model, 4, {"val_accuracy": float("nan")}, 5.0)
    assert saved_kernel(tmp_path / "best.keras") == 2.0 and checkpoint.best == 0.55
    assert [p.name for p in tmp_path.iterdir()] == ["best.keras"]  # no temporary file left behind


def test_a_resumed_run_must_beat_its_earlier_best(tmp_path):
    model, _ = trained_model()
    checkpoint = BestModelCheckpoint(tmp_path / "best.keras", "val_accuracy", best=0.6)
    checkpoint.set_model(model)
    epoch_end(checkpoint, model, 5, {"val_accuracy": 0.59}, 1.0)
    assert not (tmp_path / "best.keras").exists()
    epoch_end(checkpoint, model, 6, {"val_accuracy": 0.61}, 2.0)
    assert saved_kernel(tmp_path / "best.keras") == 2.0


def test_the_checkpoint_holds_weights_not_the_optimizer(tmp_path):
    model, pixels = trained_model()
    checkpoint = BestModelCheckpoint(tmp_path / "best.keras", "val_accuracy")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_accuracy": 0.5})
    with zipfile.ZipFile(tmp_path / "best.keras") as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        assert "optimizer" not in weights and "layers" in weights
    loaded = keras.saving.load_model(tmp_path / "best.keras", compile=False)
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0), atol=1e-6)
    assert model.optimizer is not None and int(model.optimizer.iterations) == 1  # training state untouched


def test_a_missing_metric_warns_and_saves_nothing(tmp_path, caplog):
    model, _ = trained_model()
    checkpoint = BestModelCheckpoint(tmp_path / "best.keras", "val_accuracy")
    checkpoint.set_model(model)
    with caplog.at_level(logging.WARNING, logger="fer_edge.train.callbacks"):
        checkpoint.on_epoch_end(0, {"accuracy": 0.9})
    assert "no val_accuracy after epoch 1" in caplog.text
    assert not (tmp_path / "best.keras").exists()


def test_history_reads_back_per_metric(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,accuracy,val_accuracy\n0,0.25,0.5\n1,0.375,0.625\n")
    assert read_history(tmp_path / "history.csv") == {"epoch": [0.0, 1.0], "accuracy": [0.25, 0.375],
                                                       "val_accuracy": [0.5, 0.625]}
    (tmp_path / "empty.csv").write_text("epoch,accuracy\n")
    assert read_history(tmp_path / "empty.csv") == {} and read_history(tmp_path / "absent.csv") == {}


def test_mean_metric_joins_the_logs_the_later_callbacks_read():
    mean = MeanMetric("val_heads_accuracy", ("val_probabilities_accuracy", "val_aux_probabilities_accuracy"))
    logs = {"val_probabilities_accuracy": 0.85, "val_aux_probabilities_accuracy": 0.62, "loss": 1.0}
    mean.on_epoch_end(0, logs)
    assert logs["val_heads_accuracy"] == pytest.approx(0.735)
    partial = {"val_probabilities_accuracy": 0.85}
    mean.on_epoch_end(1, partial)
    assert partial == {"val_probabilities_accuracy": 0.85}  # nothing made up from one head
