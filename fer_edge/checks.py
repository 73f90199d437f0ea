"""Type checks for numbers given from Python code: a FerEdgeError that names the option, not a TypeError deep inside."""

from __future__ import annotations

import numbers

from fer_edge.errors import FerEdgeError


def is_number(value) -> bool:
    """True for a real number (Python or NumPy), False for a bool, a numeric string or anything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def require_numbers(what: str, **values) -> None:
    """Refuse any value that is not a real number (a bool or a numeric string included).

    Raises:
        FerEdgeError: `what: NAME must be a number, got '2' (str)`.
    """
    for name, value in values.items():
        if not is_number(value):
            raise FerEdgeError(f"{what}: {name} must be a number, got {value!r} ({type(value).__name__})")


def require_whole_numbers(what: str, **values) -> None:
    """Refuse any value that is not an integer (Python or NumPy; a bool, float or string included).

    Raises:
        FerEdgeError: `what: NAME must be a whole number, got 2.5 (float)`.
    """
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise FerEdgeError(f"{what}: {name} must be a whole number, got {value!r} ({type(value).__name__})")
