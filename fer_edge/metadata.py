"""Model metadata: labels, preprocessing, crop framing and test-time augmentation that travel with every model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_edge.checks import is_number
from fer_edge.crops import CropGeometry
from fer_edge.errors import FerEdgeError, ModelError
from fer_edge.files import write_json
from fer_edge.preprocess import Preprocessing

FORMAT_VERSION = 1
TTA_MODES = ("none", "mirror", "mirror-unsure")
"""Test-time augmentation: none; the mean of the face's and its mirror image's probabilities; or that mean only for
the faces the first pass is unsure of (its highest probability under the model's `tta_threshold`)."""
UNSURE_BELOW = 0.7
"""The `tta_threshold` of a model that records none (for "mirror-unsure")."""


@dataclass(frozen=True)
class ModelMetadata:
    """What a runtime needs to use a model without hard-coding anything.

    Attributes:
        labels: class names, in the order of the model's outputs.
        preprocessing: input size, colour mode and normalization.
        arch: registry name of the architecture that produced the model.
        extra: free-form facts (training data, metrics, quantization).
        crops: crop framing per detector name ("yunet", "mtcnn"), calibrated so that runtime
            crops look like the model's training faces; other detectors use their default margin.
        tta: test-time augmentation the runtime applies by default, one of `TTA_MODES`.
        tta_threshold: with "mirror-unsure", a face is classified mirrored too when its highest probability is
            under this; in (0, 1].
    """

    labels: tuple[str, ...]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    arch: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    crops: dict[str, CropGeometry] = field(default_factory=dict, compare=False, hash=False)
    tta: str = "none"
    tta_threshold: float = UNSURE_BELOW

    def __post_init__(self) -> None:
        if len(self.labels) < 2:
            raise ModelError(f"a model needs at least 2 labels, got {list(self.labels)}")
        if len(set(self.labels)) != len(self.labels):
            raise ModelError(f"labels must be unique, got {list(self.labels)}")
        if self.tta not in TTA_MODES:
            raise ModelError(f"test-time augmentation must be one of {TTA_MODES}, got {self.tta!r}")
        if not (is_number(self.tta_threshold) and 0.0 < self.tta_threshold <= 1.0):
            raise ModelError(f"tta_threshold must be a number in (0, 1], got {self.tta_threshold!r}")
        object.__setattr__(self, "labels", tuple(self.labels))

    def crop_geometry(self, detector_name: str, default_margin: float) -> CropGeometry:
        """The framing for `detector_name`'s boxes: the calibrated one, else a centred `default_margin` square."""
        return self.crops.get(detector_name) or CropGeometry.from_margin(default_margin)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "preprocessing": self.preprocessing.to_dict(),
            "arch": self.arch,
            "extra": self.extra,
            "crops": {name: geometry.to_dict() for name, geometry in self.crops.items()},
            "tta": self.tta,
            "tta_threshold": self.tta_threshold,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelMetadata":
        """Inverse of `to_dict`."""
        try:
            return cls(
                labels=tuple(data["labels"]),
                preprocessing=Preprocessing.from_dict(data["preprocessing"]),
                arch=data.get("arch", ""),
                extra=dict(data.get("extra", {})),
                crops={str(name): CropGeometry.from_dict(value) for name, value in data.get("crops", {}).items()},
                tta=data.get("tta", "none"),
                tta_threshold=data.get("tta_threshold", UNSURE_BELOW),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"invalid model metadata: missing or bad field {exc}") from exc
        except FerEdgeError as exc:
            raise ModelError(f"invalid model metadata: {exc}") from exc


def sidecar_path(model_path: str | Path) -> Path:
    """`model.keras` -> `model.meta.json` (the metadata file beside a model)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".meta.json")


def save_metadata(metadata: ModelMetadata, path: str | Path) -> None:
    """Write metadata as pretty JSON, atomically."""
    write_json(path, metadata.to_dict())


def load_metadata(path: str | Path) -> ModelMetadata:
    """Read a metadata JSON file.

    Raises:
        ModelError: the file is missing or not valid metadata.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"model metadata not found: {path} (a fer-edge model keeps its labels and preprocessing "
                         "beside it in <name>.meta.json, written by `fer-edge train`; copy it with the model)") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read model metadata {path}: {exc}") from exc
    return ModelMetadata.from_dict(data)
