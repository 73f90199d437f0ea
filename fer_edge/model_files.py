"""Model files: resolve `default` to the shipped model, and open any model behind one interface."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fer_edge.errors import FerEdgeError, ModelError

DEFAULT_MODEL = "default_int8.tflite"


def default_model_path() -> Path:
    """The int8 model shipped inside the package (no network needed).

    Raises:
        ModelError: the package was installed without its model file.
    """
    path = Path(str(files("fer_edge") / "models" / DEFAULT_MODEL))
    if not path.is_file():
        raise ModelError(f"the shipped model is missing ({path}); reinstall fer-edge or pass --model FILE")
    return path


def resolve_model(model: str | Path | None) -> Path:
    """`None` or "default" -> the shipped model; anything else must be an existing file."""
    if model is None or str(model) == "default":
        return default_model_path()
    path = Path(model)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    return path


def load_classifier(model: str | Path | None, threads: int = 1, delegate: str | None = None,
                    require_delegate: bool = False, tta: str = "auto"):
    """A classifier for a `.tflite` (TensorFlow-free) or `.keras` (workstation) model.

    Args:
        tta: test-time augmentation: "auto" (the model's recorded default), "none" or "mirror".

    Raises:
        ModelError: unknown file type or unreadable model.
        MissingDependencyError: a `.keras` model without TensorFlow installed.
    """
    from fer_edge.tta import apply_tta

    path = resolve_model(model)
    if path.suffix == ".tflite":
        from fer_edge.interpreter import TFLiteClassifier

        return apply_tta(TFLiteClassifier(path, threads, delegate, require_delegate), tta)
    if path.suffix == ".keras":
        from fer_edge import workstation

        return apply_tta(workstation.load("train.keras_io").KerasClassifier(path), tta)
    raise FerEdgeError(f"{path}: expected a .tflite or .keras model")
