"""Label names: one spelling per expression, so datasets and models with different spellings match."""

from __future__ import annotations

from fer_edge.errors import FerEdgeError

ALIASES = {
    "angry": "anger",
    "happy": "happiness",
    "sad": "sadness",
    "surprised": "surprise",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
}
"""Other spellings (FER2013's folder names, `fer`'s labels) -> the FER+ spelling."""


def canonical_label(name: str) -> str:
    """The FER+ spelling of an expression name (`angry` -> `anger`); unknown names lower-cased as they are.

    Raises:
        FerEdgeError: `name` is not a string.
    """
    if not isinstance(name, str):
        raise FerEdgeError(f"an expression label is a string, got {type(name).__name__}")
    key = name.strip().lower()
    return ALIASES.get(key, key)
