"""Read the fer-edge metadata embedded in a `.tflite` file, without TensorFlow.

`convert` stores the model's metadata JSON as a named entry of the TFLite flatbuffer's
`Model.metadata` list (name `fer_edge`). This module walks just enough of the flatbuffer
(schema: tensorflow/lite/schema/schema.fbs) to find it: no TensorFlow, no generated code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from pathlib import Path

from fer_edge.errors import ModelError
from fer_edge.metadata import ModelMetadata, load_metadata, sidecar_path

logger = logging.getLogger(__name__)

METADATA_NAME = "fer_edge"
DIGEST_KEY = "content_sha256"
"""Top-level key of the embedded JSON: the SHA-256 of the whole file, taken with this value unsealed."""
UNSEALED = "0" * 64
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6          # field ids in table Model
_METADATA_NAME, _METADATA_BUFFER = 0, 1         # field ids in table Metadata
_BUFFER_DATA = 0                                 # field id in table Buffer


def _u32(data: bytes, pos: int) -> int:
    return struct.unpack_from("<I", data, pos)[0]


def _field(data: bytes, table: int, field_id: int) -> int | None:
    """Absolute position of a field of the table at `table`, or None when absent."""
    vtable = table - struct.unpack_from("<i", data, table)[0]
    vtable_size = struct.unpack_from("<H", data, vtable)[0]
    slot = 4 + 2 * field_id
    if slot >= vtable_size:
        return None
    offset = struct.unpack_from("<H", data, vtable + slot)[0]
    return table + offset if offset else None


def _deref(data: bytes, pos: int) -> int:
    return pos + _u32(data, pos)


def _vector(data: bytes, pos: int) -> tuple[int, int]:
    """(length, position of the first element) of the vector referenced at `pos`."""
    start = _deref(data, pos)
    return _u32(data, start), start + 4


def _table_vector(data: bytes, table: int, field_id: int) -> list[int]:
    pos = _field(data, table, field_id)
    if pos is None:
        return []
    length, first = _vector(data, pos)
    return [_deref(data, first + 4 * i) for i in range(length)]


def read_embedded_json(data: bytes, name: str = METADATA_NAME) -> dict | None:
    """The JSON stored under `name` in a TFLite flatbuffer's metadata, or None if absent.

    Raises:
        ModelError: the bytes are not a TFLite model.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError("not a TensorFlow Lite model (missing the TFL3 identifier)")
    try:
        model = _deref(data, 0)
        buffers = _table_vector(data, model, _MODEL_BUFFERS)
        for entry in _table_vector(data, model, _MODEL_METADATA):
            length, first = _vector(data, _field(data, entry, _METADATA_NAME))
            if data[first:first + length].decode() != name:
                continue
            index = struct.unpack_from("<I", data, _field(data, entry, _METADATA_BUFFER))[0]
            size, start = _vector(data, _field(data, buffers[index], _BUFFER_DATA))
            return json.loads(data[start:start + size].decode())
    except (struct.error, IndexError, TypeError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"damaged TensorFlow Lite model: {exc}") from exc
    return None


def _digest_field(value: str) -> bytes:
    return json.dumps({DIGEST_KEY: value})[1:-1].encode()  # '"content_sha256": "..."', as json.dumps writes it


def seal(data: bytes) -> bytes:
    """Record the SHA-256 of the whole file in its embedded metadata, which holds `DIGEST_KEY: UNSEALED`.

    Raises:
        ModelError: the metadata holds no unsealed digest field (or more than one).
    """
    field = _digest_field(UNSEALED)
    if data.count(field) != 1:
        raise ModelError("cannot seal the model: its metadata has no single unsealed digest field")
    return data.replace(field, _digest_field(hashlib.sha256(data).hexdigest()))


def check_seal(data: bytes, embedded: dict, path: Path) -> None:
    """Refuse a model whose bytes changed since `seal` (any byte of the file); models without a digest pass.

    Raises:
        ModelError: the file's SHA-256 is not the one recorded in it.
    """
    digest = embedded.get(DIGEST_KEY)
    if digest is None:
        logger.debug("%s records no SHA-256 (converted before fer-edge sealed models): not checked", path)
        return
    field = _digest_field(str(digest))
    if data.count(field) != 1 or hashlib.sha256(data.replace(field, _digest_field(UNSEALED))).hexdigest() != digest:
        raise ModelError(f"{path} was changed or damaged after conversion (its SHA-256 is not the one recorded "
                         "in it): convert it again, or reinstall fer-edge for a shipped model")


def load_tflite_metadata(path: str | Path) -> ModelMetadata:
    """Metadata of a `.tflite` file: embedded first, else the `.meta.json` sidecar.

    Raises:
        ModelError: the file is missing, damaged or changed after conversion (`check_seal`),
            or carries no metadata at all.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"model file not found: {path}") from exc
    try:
        embedded = read_embedded_json(data)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc
    if embedded is not None:
        check_seal(data, embedded, path)
        return ModelMetadata.from_dict(embedded)
    if sidecar_path(path).exists():
        return load_metadata(sidecar_path(path))
    raise ModelError(f"{path} has no fer-edge metadata (labels, preprocessing) embedded or beside it; "
                     "convert it with `fer-edge convert`")
