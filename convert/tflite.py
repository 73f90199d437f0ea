"""Keras -> TensorFlow Lite in four precisions, metadata embedded, written atomically."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from fer_edge.convert.calibration import calibration_pixels
from fer_edge.errors import FerEdgeError, ModelError
from fer_edge.files import ensure_folder, write_atomic
from fer_edge.metadata import ModelMetadata, save_metadata, sidecar_path
from fer_edge.model_files import require_distinct_output
from fer_edge.native_logs import native_stderr_silenced
from fer_edge.preprocess import normalize
from fer_edge.tflite_metadata import DIGEST_KEY, METADATA_NAME, UNSEALED, read_embedded_json, seal
from fer_edge.train.keras_io import load_keras_model

logger = logging.getLogger(__name__)

QUANTIZATIONS = ("fp32", "fp16", "dynamic", "int8")


@dataclass(frozen=True)
class ConversionResult:
    """One converted model."""

    path: Path
    quant: str
    size_bytes: int
    metadata: ModelMetadata


def _converter(model, quant: str, calibration: np.ndarray | None, metadata: ModelMetadata,
               per_tensor: bool = False):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quant == "fp32":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif quant == "int8":
        inputs = normalize(calibration, metadata.preprocessing)
        converter.representative_dataset = lambda: ([sample[np.newaxis]] for sample in inputs)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        # One scale per weight tensor instead of one per output channel: each per-channel
        # scale costs 12 bytes (float32 scale + int64 zero point) on the weights and again on the biases.
        converter._experimental_disable_per_channel = per_tensor
    return converter


def embed_metadata(model_bytes: bytes, metadata: dict) -> bytes:
    """Add `metadata` (JSON) to the flatbuffer's Model.metadata under the name `fer_edge`, and seal the file.

    The sealed file records its own SHA-256 in the metadata (`DIGEST_KEY`); the runtime refuses
    a file whose bytes changed afterwards.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    buffer = schema.BufferT()
    text = json.dumps({**metadata, DIGEST_KEY: UNSEALED}, sort_keys=True)
    buffer.data = np.frombuffer(text.encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()] + [entry]
    return seal(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


def _io_quantization(model_bytes: bytes) -> dict:
    from fer_edge.interpreter import interpreter_module

    interpreter = interpreter_module().Interpreter(model_content=model_bytes)
    details = {"input": interpreter.get_input_details()[0], "output": interpreter.get_output_details()[0]}
    return {name: {"dtype": np.dtype(d["dtype"]).name, "scale": float(d["quantization"][0]),
                   "zero_point": int(d["quantization"][1])} for name, d in details.items()}


@contextlib.contextmanager
def _converter_quiet():
    """Keep the converter's chatter out of normal runs: Keras's export summary goes to stdout (captured by the
    caller), the MLIR quantizer's "fully_quantize: ..." line to file descriptor 2 from C++, and a warning about
    input statistics that does not apply (int8 input quantization comes from the calibration data)."""
    with warnings.catch_warnings(), native_stderr_silenced():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected", category=UserWarning)
        yield


def convert_model(keras_path: str | Path, out: str | Path, quant: str = "fp32",
                  calibration: str | Path | None = None, samples: int = 300, seed: int = 0,
                  per_tensor: bool = False) -> ConversionResult:
    """Convert a `.keras` model (with its `.meta.json`) to `out` (.tflite) at precision `quant`.

    int8 is full-integer (int8 input and output, integer ops only), calibrated on about
    `samples` real face crops from the ImageFolder `calibration` through the shared
    preprocessing. The metadata (labels, preprocessing, I/O quantization) is embedded in
    the file, and also written beside it as `<name>.meta.json`. Files appear atomically.
    `per_tensor` gives int8 weights one scale per tensor rather than per output channel:
    a smaller file, at an accuracy cost that depends on the model (measure it with verify).

    Raises:
        FerEdgeError: unknown precision, int8 without calibration data, `per_tensor` with another
            precision, unreadable model, a conversion TensorFlow rejects, or an `out` (or its `.meta.json`)
            that would replace the model's.
    """
    _check_request(quant, calibration, per_tensor)
    require_distinct_output(out, [keras_path])
    model, metadata = load_keras_model(keras_path)
    pixels = calibration_pixels(calibration, metadata.preprocessing, samples, seed) if quant == "int8" else None
    try:
        with contextlib.redirect_stdout(io.StringIO()) as chatter, _converter_quiet():
            converted = _converter(model, quant, pixels, metadata, per_tensor).convert()
        logger.debug("converter output: %s", chatter.getvalue())
    except Exception as exc:  # TensorFlow's converter raises many unrelated types
        raise ModelError(f"TensorFlow Lite conversion of {keras_path} to {quant} failed: {exc}") from exc
    extra = {**metadata.extra, "quantization": quant, "io": _io_quantization(converted),
             "source_model": Path(keras_path).name}
    if pixels is not None:
        extra["calibration"] = {"samples": int(len(pixels)), "seed": seed, "data": Path(calibration).name}
        extra["weight_scales"] = "per-tensor" if per_tensor else "per-channel"
    final = replace(metadata, extra=extra)  # crops and tta travel unchanged
    data = embed_metadata(converted, final.to_dict())
    if read_embedded_json(data) is None:
        raise ModelError(f"metadata could not be embedded in the {quant} model")
    out = _write_model(Path(out), data, final)
    logger.info("wrote %s (%s, %d bytes)", out, quant, len(data))
    return ConversionResult(out, quant, len(data), final)


def _check_request(quant: str, calibration, per_tensor: bool) -> None:
    if quant not in QUANTIZATIONS:
        raise FerEdgeError(f"unknown precision {quant!r}; choose one of: {', '.join(QUANTIZATIONS)}")
    if quant == "int8" and calibration is None:
        raise FerEdgeError("int8 needs real calibration images: pass --calibration DATA (an ImageFolder of faces)")
    if per_tensor and quant != "int8":
        raise FerEdgeError(f"--per-tensor applies to int8 only, not {quant}")


def _write_model(out: Path, data: bytes, metadata: ModelMetadata) -> Path:
    """Write the model file and its `.meta.json` sidecar, each atomically."""
    ensure_folder(out.parent)
    try:
        write_atomic(out, data)
        save_metadata(metadata, sidecar_path(out))
    except OSError as exc:
        raise FerEdgeError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return out


def add_metadata_facts(path: str | Path, facts: dict) -> ModelMetadata:
    """Merge `facts` into the `extra` of a converted model's embedded metadata (and its sidecar)."""
    path = Path(path)
    data = path.read_bytes()
    current = read_embedded_json(data)
    if current is None:
        raise ModelError(f"{path} has no embedded fer-edge metadata")
    updated = ModelMetadata.from_dict({**current, "extra": {**current.get("extra", {}), **facts}})
    write_atomic(path, embed_metadata(data, updated.to_dict()))
    save_metadata(updated, sidecar_path(path))
    return updated


def convert_all(keras_path: str | Path, out_dir: str | Path, calibration: str | Path | None,
                samples: int = 300, seed: int = 0, per_tensor: bool = False) -> list[ConversionResult]:
    """Every precision into `out_dir/<model>_<quant>.tflite` (int8 only with calibration data)."""
    if calibration is None:
        raise FerEdgeError("--quant all includes int8, which needs --calibration DATA")
    stem = Path(keras_path).stem
    return [convert_model(keras_path, Path(out_dir) / f"{stem}_{quant}.tflite", quant, calibration, samples, seed,
                          per_tensor and quant == "int8") for quant in QUANTIZATIONS]
