"""Training callbacks: the best-epoch checkpoint, its moving-average variant, throughput and the history file."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import keras

from fer_edge.train.keras_io import save_model_file

logger = logging.getLogger(__name__)


class ThroughputLogger(keras.callbacks.Callback):
    """Records training images per second of every epoch (time in fit's train loop only)."""

    def __init__(self, images_per_epoch: int):
        super().__init__()
        self.images_per_epoch = images_per_epoch
        self.rates: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._start:
            self.rates.append(self.images_per_epoch / (time.perf_counter() - self._start))
            self._start = 0.0


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` each time `monitor` beats its best value so far (higher is better).

    Unlike Keras's `ModelCheckpoint`, the file leaves the optimizer's state out (a third of the size with
    RAdam): a resumed run reads its optimizer from `backup/`, never from here. `best` is the value to beat,
    the best of the earlier epochs when a run resumes.
    """

    def __init__(self, path: str | Path, monitor: str, best: float = float("-inf")):
        super().__init__()
        self.path, self.monitor, self.best = Path(path), monitor, best

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            logger.warning("no %s after epoch %d: the best-epoch checkpoint is not updated", self.monitor, epoch + 1)
            return
        if current > self.best:
            logger.info("epoch %d: %s improved from %.4f to %.4f, saving %s", epoch + 1, self.monitor, self.best,
                        current, self.path)
            self.best = float(current)
            save_model_file(self.model, self.path)


class AveragedWeightsCheckpoint(keras.callbacks.Callback):
    """Runs a checkpoint callback with the optimizer's moving-average weights in the model, then the raw ones again."""

    def __init__(self, checkpoint: keras.callbacks.Callback):
        super().__init__()
        self.checkpoint = checkpoint

    def set_model(self, model):
        super().set_model(model)
        self.checkpoint.set_model(model)

    def on_epoch_begin(self, epoch, logs=None):
        self.checkpoint.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        variables = self.model.trainable_variables
        raw = [variable.numpy() for variable in variables]
        self.model.optimizer.finalize_variable_values(variables)
        try:
            self.checkpoint.on_epoch_end(epoch, logs)
        finally:
            for variable, value in zip(variables, raw):
                variable.assign(value)


def read_history(csv_path: Path) -> dict[str, list[float]]:
    """history.csv (one row per epoch, kept across resumes) -> {metric: [values]}."""
    if not csv_path.exists():
        return {}
    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}
