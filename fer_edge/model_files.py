"""Model files: resolve `default` and `accurate` to the shipped models, and open any model behind one interface."""

from __future__ import annotations

import os
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from fer_edge.errors import FerEdgeError, ModelError, OutputError

if TYPE_CHECKING:
    from fer_edge.metadata import ModelMetadata

SHIPPED_MODELS = ("default", "accurate")
"""Models shipped inside the package: `default` (fast) and `accurate` (larger), each as `<name>_int8.tflite`."""


def shipped_model_path(name: str = "default", precision: str = "int8") -> Path:
    """A model shipped inside the package (no network needed): `<name>_<precision>.tflite`.

    Raises:
        ModelError: not a shipped name, or the package was installed without that file.
    """
    if name not in SHIPPED_MODELS:
        raise ModelError(f"no shipped model {name!r}; choose one of {', '.join(SHIPPED_MODELS)} or pass a file")
    path = Path(str(files("fer_edge") / "models" / f"{name}_{precision}.tflite"))
    if not path.is_file():
        raise ModelError(f"the shipped model is missing ({path}); reinstall fer-edge or pass --model FILE")
    return path


def default_model_path() -> Path:
    """The int8 `default` model shipped inside the package."""
    return shipped_model_path("default")


def resolve_model(model: str | Path | None) -> Path:
    """`None` or "default" -> the shipped default, "accurate" -> the shipped accurate model; else an existing file."""
    if not isinstance(model, (str, os.PathLike, type(None))):
        raise ModelError(f"a model is one of {', '.join(SHIPPED_MODELS)} or a file path, got {type(model).__name__}")
    if model is None or str(model) in SHIPPED_MODELS:
        return shipped_model_path(str(model or "default"))
    if not str(model).strip():
        raise ModelError(f"the model name is empty; pass one of {', '.join(SHIPPED_MODELS)} or a model file")
    path = Path(model)
    if path.is_dir():
        raise ModelError(f"{path} is a folder; pass a model file (.tflite or .keras) or one of "
                         f"{', '.join(SHIPPED_MODELS)}")
    if not path.is_file():
        hint = "" if path.suffix else f" (not a file, nor a shipped model: {', '.join(SHIPPED_MODELS)})"
        raise ModelError(f"model file not found: {path}{hint}")
    return path


def load_classifier(model: str | Path | None, threads: int = 1, delegate: str | None = None,
                    require_delegate: bool = False, tta: str = "auto"):
    """A classifier for a `.tflite` (TensorFlow-free) or `.keras` (workstation) model.

    Args:
        tta: test-time augmentation: "auto" (the model's recorded default), "none", "mirror" or "mirror-unsure".

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


def load_model_metadata(model: str | Path | None) -> tuple[Path, ModelMetadata]:
    """A model's file and metadata, read without loading the model (no TensorFlow needed).

    A `.tflite` model's metadata is embedded (else beside it); a `.keras` model's is its `.meta.json` sidecar.

    Raises:
        ModelError: no such model, a file of another type, or missing or damaged metadata.
    """
    from fer_edge.metadata import load_metadata, sidecar_path
    from fer_edge.tflite_metadata import load_tflite_metadata

    path = resolve_model(model)
    if path.suffix == ".keras":
        require_keras_archive(path)
        return path, load_metadata(sidecar_path(path))
    if path.suffix != ".tflite":
        raise ModelError(f"{path}: expected a .tflite or .keras model")
    return path, load_tflite_metadata(path)


def require_keras_archive(path: Path) -> None:
    """Raise ModelError unless `path` is a zip archive, the container of every Keras 3 `.keras` model."""
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path} is not a Keras model: a .keras file is the zip archive Keras 3 saves "
                         "(model.save('name.keras')); this one is damaged or of another format")


def require_distinct_output(out: str | Path, inputs) -> None:
    """Refuse an output model that would replace one of the input models, or the `.meta.json` of one.

    Raises:
        OutputError: `out` is an input's path, or shares an input's metadata file (`a.tflite` beside `a.keras`).
    """
    from fer_edge.metadata import sidecar_path

    out = Path(out)
    for source in map(Path, inputs):
        if out.resolve() == source.resolve():
            raise OutputError(f"--out {out} is the input model {source}: writing it would replace that model; "
                              "choose another path")
        if sidecar_path(out).resolve() == sidecar_path(source).resolve():
            raise OutputError(f"--out {out} would write its metadata to {sidecar_path(out)}, the metadata of the "
                              f"input model {source}; choose another name (e.g. {out.stem}_new{out.suffix})")
