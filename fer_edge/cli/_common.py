"""Helpers shared by CLI commands: lazy workstation imports and output formatting."""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

import click

from fer_edge.errors import MissingDependencyError

WORKSTATION_PACKAGES = {"tensorflow", "keras", "matplotlib", "mtcnn", "h5py"}


def load_workstation(module: str, extra: str = "train") -> ModuleType:
    """Import a workstation module (it imports TensorFlow); a missing extra is a clear error."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        root = (exc.name or "").split(".")[0]
        if root in WORKSTATION_PACKAGES:
            raise MissingDependencyError(root, extra) from exc
        raise


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON."""
    click.echo(json.dumps(data, indent=2))


def format_table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
