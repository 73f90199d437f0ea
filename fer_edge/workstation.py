"""The one extension point from the device side into the workstation side: a lazy, extra-aware import.

The device runtime (`fer_edge/`) never imports `fer_edge.train` or `fer_edge.convert` directly:
what it offers on a workstation (`.keras` models, MTCNN, plots, training, conversion) goes
through `load`, so a Pi install without TensorFlow gets an error that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fer_edge.errors import MissingDependencyError

WORKSTATION_PACKAGES = frozenset({"tensorflow", "keras", "matplotlib", "mtcnn", "h5py"})
"""Third-party packages that only the workstation extras install."""
MODULES = ("train", "convert")
"""The workstation subpackages `load` may import from."""


def load(module: str, extra: str = "train") -> ModuleType:
    """Import `fer_edge.<module>` (e.g. "train.keras_io"), a workstation module.

    Args:
        module: the module below `fer_edge`, starting with "train." or "convert.".
        extra: the pip extra that provides its dependencies, named in the error.

    Raises:
        MissingDependencyError: a workstation package it needs is not installed.
        ValueError: `module` is not a workstation module (a programming error).
    """
    if module.split(".")[0] not in MODULES:
        raise ValueError(f"{module!r} is not below one of the workstation packages {MODULES}")
    try:
        return importlib.import_module(f"fer_edge.{module}")
    except ModuleNotFoundError as exc:
        root = (exc.name or "").split(".")[0]
        if root in WORKSTATION_PACKAGES:
            raise MissingDependencyError(root, extra) from exc
        raise
