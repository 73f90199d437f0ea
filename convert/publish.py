"""Convert, verify and publish TFLite files: the outputs of one call appear together, or none does."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from fer_edge.convert.tflite import QUANTIZATIONS, ConversionResult, add_metadata_facts, convert_all, convert_model
from fer_edge.errors import FerEdgeError
from fer_edge.files import staged_folder
from fer_edge.model_files import require_distinct_output

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """The converted files (at their final paths) and, with verification data, one verification row each."""

    results: tuple[ConversionResult, ...]
    verifications: tuple[dict, ...] = ()


def publish(keras_path: str | Path, out: str | Path, quant: str = "fp32", calibration: str | Path | None = None,
            samples: int = 300, seed: int = 0, per_tensor: bool = False,
            verify_data: str | Path | None = None) -> Published:
    """Convert `keras_path` at precision `quant` ("all": every precision into the folder `out`).

    Every file is written and (with `verify_data`) verified against the Keras model, with the
    result embedded, in a staging folder first; only then do they replace their namesakes.
    A failure anywhere leaves the destination exactly as it was.

    Raises:
        FerEdgeError: a conversion or verification fails, `out` is a folder where a file is expected, or an
            output (or its `.meta.json`) would replace the Keras model's.
    """
    out = Path(out)
    if quant != "all" and out.is_dir():
        raise FerEdgeError(f"--out {out} is a folder; give a .tflite file name (or use --quant all)")
    folder = out if quant == "all" else out.parent
    finals = [folder / f"{Path(keras_path).stem}_{q}.tflite" for q in QUANTIZATIONS] if quant == "all" else [out]
    for final in finals:  # the staged files are checked by name only; their destinations are what counts
        require_distinct_output(final, [keras_path])
    with staged_folder(folder) as stage:
        if quant == "all":
            staged = convert_all(keras_path, stage, calibration, samples, seed, per_tensor)
        else:
            staged = [convert_model(keras_path, stage / out.name, quant, calibration, samples, seed, per_tensor)]
        rows = tuple(_verify(keras_path, result, verify_data) for result in staged) if verify_data else ()
    return Published(tuple(replace(result, path=folder / result.path.name) for result in staged), rows)


def _verify(keras_path: str | Path, result: ConversionResult, data: str | Path) -> dict:
    from fer_edge.convert.verify import verify

    row = verify(keras_path, result.path, data).to_dict()
    add_metadata_facts(result.path, {"verification": {**row, "data": str(data)}})
    logger.info("verified %s: accuracy %.4f (float %.4f)", result.path.name, row["tflite_accuracy"],
                row["keras_accuracy"])
    return row
