"""Helpers shared by CLI commands: workstation imports and output formatting."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from fer_edge.errors import OutputError
from fer_edge.files import require_writable_file
from fer_edge.workstation import load as load_workstation  # noqa: F401  (re-exported for the commands)


class FiniteFloatRange(click.FloatRange):
    """`click.FloatRange` that also refuses `nan` and `inf` (Click's range check lets NaN through)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class OutputFile(click.Path):
    """An output file's path, checked writable (its folder created) before the command's work starts."""

    def __init__(self):
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        try:
            return require_writable_file(path)
        except OutputError as exc:
            self.fail(str(exc), param, ctx)


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON."""
    click.echo(json.dumps(data, indent=2))


def format_table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
