"""Training callbacks: the best-epoch checkpoint, its moving-average variant, throughput and the history file."""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import time
from pathlib import Path

import keras
import numpy as np

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


class MeanMetric(keras.callbacks.Callback):
    """Adds `name` to each epoch's logs, the mean of `metrics`: in `history.csv`, and able to pick the best epoch.

    Runs before the callbacks that read it (the history logger, the best-epoch checkpoint).
    """

    def __init__(self, name: str, metrics: tuple[str, ...]):
        super().__init__()
        self.name, self.metrics = name, metrics

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and all(metric in logs for metric in self.metrics):
            logs[self.name] = float(np.mean([logs[metric] for metric in self.metrics]))


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


@contextlib.contextmanager
def restored(variables: list):
    """Inside the `with` block `variables` may be assigned anything: their values come back after it."""
    values = [np.array(variable.numpy()) for variable in variables]
    try:
        yield
    finally:
        for variable, value in zip(variables, values):
            variable.assign(value)


class AveragedStatistics(keras.callbacks.Callback):
    """A moving average of the batch-norm statistics, in the model wherever the averaged weights are.

    The optimizer's `use_ema` averages trainable variables only, so the averaged weights would meet the
    statistics of the raw ones (timm's EMA averages both). This keeps an average of the model's float
    non-trainable variables with the same momentum, updated after every step; it is in the model during
    validation (alongside `SwapEMAWeights`) and for `AveragedWeightsCheckpoint`, and saved to `path` at
    every epoch's end so that a resumed run (`resume`) carries it over.
    """

    def __init__(self, momentum: float, path: str | Path, resume: bool = False):
        super().__init__()
        self.momentum, self.path, self.resume = momentum, Path(path), resume
        self._variables: list = []
        self._averages: list[np.ndarray] = []
        self._validation = contextlib.ExitStack()

    def on_train_begin(self, logs=None):
        self._variables = [v for v in self.model.non_trainable_variables if "float" in str(v.dtype)]
        self._averages = [np.array(v.numpy()) for v in self._variables]
        if self.resume and self.path.exists():
            with np.load(self.path) as saved:
                stored = [saved[f"arr_{i}"] for i in range(len(saved.files))]
            if [a.shape for a in stored] == [a.shape for a in self._averages]:
                self._averages = stored
            else:
                logger.warning("%s does not match the model: the statistics' average restarts", self.path)

    def on_train_batch_end(self, batch, logs=None):
        for index, variable in enumerate(self._variables):
            self._averages[index] = self.momentum * self._averages[index] + (1 - self.momentum) * variable.numpy()

    def on_epoch_end(self, epoch, logs=None):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial.npz")
        np.savez(partial, *self._averages)
        os.replace(partial, self.path)

    def on_test_begin(self, logs=None):
        self._validation.close()  # a validation that never ended leaves nothing behind
        self._validation.enter_context(self.in_model())

    def on_test_end(self, logs=None):
        self._validation.close()

    @contextlib.contextmanager
    def in_model(self):
        """The averages in the model inside the `with` block, the raw statistics again after it."""
        with restored(self._variables):
            for variable, average in zip(self._variables, self._averages):
                variable.assign(average)
            yield


class AveragedWeightsCheckpoint(keras.callbacks.Callback):
    """Runs a checkpoint callback with the optimizer's moving-average weights in the model, then the raw ones again.

    With `statistics`, the batch-norm statistics' average is in the model too.
    """

    def __init__(self, checkpoint: keras.callbacks.Callback, statistics: AveragedStatistics | None = None):
        super().__init__()
        self.checkpoint, self.statistics = checkpoint, statistics

    def set_model(self, model):
        super().set_model(model)
        self.checkpoint.set_model(model)

    def on_epoch_begin(self, epoch, logs=None):
        self.checkpoint.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        variables = self.model.trainable_variables
        with restored(variables), self.statistics.in_model() if self.statistics else contextlib.nullcontext():
            self.model.optimizer.finalize_variable_values(variables)
            self.checkpoint.on_epoch_end(epoch, logs)


def read_history(csv_path: Path) -> dict[str, list[float]]:
    """history.csv (one row per epoch, kept across resumes) -> {metric: [values]}."""
    if not csv_path.exists():
        return {}
    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}
