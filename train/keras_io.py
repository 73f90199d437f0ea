"""Keras model files: load a `.keras` model with its metadata, save one atomically."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import keras

from fer_edge.errors import ModelError, OutputError
from fer_edge.files import ensure_folder
from fer_edge.metadata import ModelMetadata, load_metadata, save_metadata, sidecar_path
from fer_edge.model_files import require_keras_archive
from fer_edge.train import radam  # noqa: F401  (registers RAdam for deserialization)
from fer_edge.train import layers  # noqa: F401  (registers our layers for deserialization)
from fer_edge.train.heads import HEAD


def save_model_file(model: keras.Model, path: str | Path) -> Path:
    """Save `model`'s architecture and weights to `path` (.keras) atomically, without the optimizer's state.

    Nothing reads that state back (`--init-from` starts a fresh optimizer, `--resume` reads the run's
    `backup/`), and it would triple the file of a model trained with RAdam.

    Raises:
        OutputError: the folder cannot be created or written, or the disk is full.
    """
    path = Path(path)
    try:
        handle, tmp = tempfile.mkstemp(dir=ensure_folder(path.parent), prefix=f".{path.stem}.", suffix=".keras")
        os.close(handle)
        os.unlink(tmp)  # Keras writes the file itself, with the usual permissions
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        model.save(tmp)
        if getattr(model, "optimizer", None) is not None:  # loaded uncompiled and saved again: weights only
            keras.saving.load_model(tmp, compile=False, safe_mode=True).save(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def save_keras_model(model: keras.Model, metadata: ModelMetadata, path: str | Path) -> Path:
    """Save `model` to `path` (.keras, without optimizer state) and its metadata beside it, each atomically."""
    path = save_model_file(model, path)
    save_metadata(metadata, sidecar_path(path))
    return path


MAX_REASON = 240
"""Characters of Keras's message kept in an error: its messages can quote a whole layer config."""


def _one_line(exc: Exception) -> str:
    message = str(exc).strip()
    if "safe_mode" in message or "arbitrary code" in message:
        return ("refused: it holds Python code (a Lambda layer or a custom function) and safe mode never runs "
                "code from a model file; rebuild the model from registered layers")
    first = message.splitlines()[0] if message else type(exc).__name__
    return first if len(first) <= MAX_REASON else first[:MAX_REASON] + "..."


def load_keras_model(path: str | Path) -> tuple[keras.Model, ModelMetadata]:
    """Load a `.keras` model and its `.meta.json` sidecar; check they agree.

    Raises:
        ModelError: a file is missing or unreadable, or the model's output size
            differs from the number of labels.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    require_keras_archive(path)  # Keras itself would call a damaged file "File not found"
    metadata = load_metadata(sidecar_path(path))
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except zipfile.BadZipFile as exc:  # a member's checksum fails: bytes changed after saving
        raise ModelError(f"cannot load Keras model {path}: the file is damaged ({_one_line(exc)}); "
                         "copy it again or retrain") from exc
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"cannot load Keras model {path}: {_one_line(exc)}") from exc
    multi = len(model.outputs) > 1  # a two-head model: its primary head
    outputs = model.get_layer(HEAD).output.shape[-1] if multi else model.output_shape[-1]
    if outputs != len(metadata.labels):
        raise ModelError(
            f"{path} has {outputs} outputs but its metadata lists {len(metadata.labels)} labels"
        )
    return model, metadata


class KerasClassifier:
    """A `.keras` model behind the same `predict_pixels` interface as the TFLite classifier."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.model, self.metadata = load_keras_model(path)

    def predict_pixels(self, pixels):
        """Probabilities (N, classes) for uint8 model pixels, through the shared normalization."""
        from fer_edge.train.evaluation import predict_pixels

        return predict_pixels(self.model, pixels, self.metadata).astype("float32")
