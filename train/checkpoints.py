"""Resuming a run: the saved options must match, the checkpoint must be whole, history keeps one row per epoch."""

from __future__ import annotations

import csv
import json
import logging
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras

from fer_edge.errors import FerEdgeError
from fer_edge.train.options import augment_mode

logger = logging.getLogger(__name__)

MUST_MATCH = ("arch", "batch_size", "image_size", "color_mode", "learning_rate", "lr_schedule", "seed", "augment",
              "class_weights", "label_smoothing", "label_mode", "blend_labels", "blend_weight", "aux_labels",
              "aux_loss_weight", "aux_class_weights", "teacher", "teacher_weight", "teacher_temperature", "val_fraction", "test_fraction", "max_per_class", "init_from",
              "ema", "mixup", "erasing", "best_by", "teacher_heads")
"""Options a resumed run must share with the interrupted one (epochs may grow, workers and verbosity may change)."""
START_OVER = "delete the run folder (or its backup/) to start over"


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FerEdgeError(f"cannot resume: {path} ({what}) is missing; {START_OVER}") from None
    except (OSError, ValueError) as exc:
        raise FerEdgeError(f"cannot resume: {path} ({what}) is damaged ({exc}); {START_OVER}") from exc


def check_options(run_dir: Path, options) -> None:
    """Refuse to resume with options that change what the interrupted run was training."""
    saved = _read_json(run_dir / "options.json", "the interrupted run's options")
    if not isinstance(saved, dict):
        raise FerEdgeError(f"cannot resume: {run_dir / 'options.json'} is not an options record; {START_OVER}")
    current = json.loads(json.dumps(asdict(options)))  # tuples as the saved lists
    defaults = json.loads(json.dumps(asdict(type(options)())))  # for runs saved before an option existed
    saved = {key: saved.get(key, defaults[key]) for key in MUST_MATCH}
    saved["augment"] = augment_mode(saved["augment"])
    changed = [f"--{key.replace('_', '-')} {saved[key]!r} -> {current[key]!r}"
               for key in MUST_MATCH if saved[key] != current[key]]
    if changed:
        raise FerEdgeError(f"cannot resume {run_dir} with other options: {', '.join(changed)}; "
                           "resume with the same options or choose another --out")


def checkpoint_epoch(run_dir: Path) -> int:
    """The number of finished epochs in the run's checkpoint (`backup/`), after checking it is whole."""
    backup = run_dir / "backup"
    state = _read_json(backup / "training_metadata.json", "the checkpoint's progress")
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) or state["epoch"] < 0:
        raise FerEdgeError(f"cannot resume: {backup / 'training_metadata.json'} is damaged; {START_OVER}")
    weights = backup / "latest.weights.h5"
    try:
        import h5py

        with h5py.File(weights, "r") as handle:
            handle.visit(lambda name: None)  # walks every group: a truncated file fails here
    except (OSError, RuntimeError, ValueError) as exc:
        raise FerEdgeError(f"cannot resume: the checkpoint weights {weights} are missing or damaged ({exc}); "
                           f"{START_OVER}") from exc
    return state["epoch"]


def align_history(csv_path: Path, epochs: int) -> None:
    """Keep exactly the history rows of the `epochs` epochs the checkpoint holds (later ones are trained again).

    Raises:
        FerEdgeError: the history is missing or has fewer rows than the checkpoint's epochs (rows were lost).
    """
    try:
        with csv_path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        rows = []
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise FerEdgeError(f"cannot resume: {csv_path} is damaged ({exc}); {START_OVER}") from exc
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    if len(body) < epochs:
        raise FerEdgeError(f"cannot resume: {csv_path} records {len(body)} epoch(s) but the checkpoint holds "
                           f"{epochs}: the history was lost; {START_OVER}")
    if len(body) > epochs:
        logger.info("dropping %d history row(s) after the checkpoint's epoch %d", len(body) - epochs, epochs)
        with csv_path.open("w", newline="") as handle:
            csv.writer(handle).writerows([header, *body[:epochs]])


def check_resumable(run_dir: Path, options) -> int:
    """Everything `--resume` needs, checked before any training starts.

    Returns:
        The number of epochs the checkpoint has finished.

    Raises:
        FerEdgeError: other options, a damaged or incomplete checkpoint, or a history that lost rows.
    """
    check_options(run_dir, options)
    epochs = checkpoint_epoch(run_dir)
    align_history(run_dir / "history.csv", epochs)
    return epochs


def stream_seed(seed: int, first_epoch: int) -> int:
    """The seed of a run's shuffles, augmentation, dropout and mixup when its process starts at `first_epoch`.

    `seed` itself for a fresh run; a run resumed at epoch N draws from a seed derived from `seed` and N, so it
    does not replay the first epochs' batches, augmentations and dropout masks (a fresh process restarts
    every random stream), and two resumptions of the same checkpoint draw alike.
    """
    return seed if first_epoch == 0 else zlib.crc32(f"{seed}:{first_epoch}".encode()) & 0x7FFFFFFF


class ResumedEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping (mode max) whose patience counts the epochs the run trained without a new best before it
    was interrupted: a run resumed in sittings shorter than the patience still stops where an uninterrupted
    one would."""

    def __init__(self, monitor: str, patience: int, previous: list[float]):
        super().__init__(monitor, mode="max", patience=patience)
        self.previous = list(previous)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.previous:
            best_epoch = max(range(len(self.previous)), key=lambda epoch: (self.previous[epoch], -epoch))
            self.best, self.best_epoch = self.previous[best_epoch], best_epoch
            self.wait = len(self.previous) - 1 - best_epoch
