"""The pipelines a `fer-edge bench` run compares, and the run itself.

Full path: MTCNN + the float Keras model on TensorFlow (GPU when TensorFlow sees one).
Edge paths: YuNet + LiteRT at every precision, at 1 and N threads. Peers: e.g. the `fer` package.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from fer_edge.bench import BenchRecord, Frame, Pipeline, measure_all, score
from fer_edge.faces import FAST_DETECT_WIDTH, DetectorOptions, create_detector
from fer_edge.interpreter import MAX_THREADS, TFLiteClassifier
from fer_edge.model_files import default_model_path
from fer_edge.tflite_metadata import load_tflite_metadata
from fer_edge.tta import AUTO, apply_tta, resolve_tta

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "dynamic", "int8")
FULL = "full mtcnn+keras"


def shipped_models() -> tuple[list[Path], Path]:
    """The shipped default at every precision and the accurate model as int8; the default's float Keras model."""
    folder = default_model_path().parent
    files = [folder / f"default_{p}.tflite" for p in PRECISIONS] + [folder / "accurate_int8.tflite"]
    return [path for path in files if path.exists()], folder / "default.keras"


@dataclass(frozen=True)
class BenchOptions:
    """What to compare.

    Attributes:
        tflite: edge models (default: the shipped model at every precision).
        keras: float model for the full path (default: the shipped one).
        full: include the full path (needs TensorFlow and mtcnn).
        threads: interpreter thread counts for the edge paths.
        peers: extra pipelines: `fer` (the fer package's default path).
        runs: timed frames per pipeline, after `warmup` untimed ones.
        detection: detector settings for YuNet and MTCNN.
        detect_widths: YuNet input widths to compare (0: full frame).
        tta: test-time augmentation modes to compare ("auto": each model's default).
    """

    tflite: tuple[Path, ...] = ()
    keras: Path | None = None
    full: bool = True
    threads: tuple[int, ...] = field(default_factory=lambda: tuple(sorted({1, min(os.cpu_count() or 1, MAX_THREADS)})))
    peers: tuple[str, ...] = ()
    runs: int = 100
    warmup: int = 10
    detection: DetectorOptions = field(default_factory=DetectorOptions)
    detect_widths: tuple[int, ...] = (FAST_DETECT_WIDTH,)
    tta: tuple[str, ...] = (AUTO,)


def _full_pipeline(keras_path: Path, detection: DetectorOptions) -> Pipeline:
    from fer_edge import workstation

    KerasClassifier = workstation.load("train.keras_io").KerasClassifier  # noqa: N806
    import tensorflow as tf  # importable: keras_io needs it
    device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    return Pipeline(FULL, "full", "float32", 0, create_detector("mtcnn", detection), KerasClassifier(keras_path),
                    keras_path.stat().st_size, device)


def model_labels(paths) -> list[str]:
    """Each model's name in pipeline names: its file stem, with its folder where stems repeat (`old/accurate_int8`),
    and the path as given where even that repeats."""
    stems = [Path(path).stem for path in paths]
    labels = [stem if stems.count(stem) == 1 else f"{Path(path).parent.name}/{stem}"
              for path, stem in zip(paths, stems)]
    return [label if labels.count(label) == 1 else str(path) for path, label in zip(paths, labels)]


def _edge_pipelines(paths, threads, detection, widths, tta_modes) -> list[Pipeline]:
    pipelines = []
    for width in widths:
        detector = create_detector("yunet", replace(detection, detect_width=width))
        for path, label in zip(paths, model_labels(paths)):
            metadata = load_tflite_metadata(path)
            modes = dict.fromkeys(resolve_tta(mode, metadata) for mode in tta_modes)  # "auto" may repeat one
            for count, mode in ((count, mode) for count in threads for mode in modes):
                classifier = apply_tta(TFLiteClassifier(path, threads=count), mode)
                precision = str(classifier.metadata.extra.get("quantization", "unknown"))
                mirror = "" if mode == "none" else f"+{mode}"
                name = f"edge yunet{f'@{width}' if width else ''}+{label}{mirror} x{count}"
                pipelines.append(Pipeline(name, "edge", precision, count, detector, classifier,
                                          Path(path).stat().st_size))
    return pipelines


def _peer_pipelines(peers) -> list[Pipeline]:
    from fer_edge.peers import fer_peer

    pipelines = []
    for peer in peers:
        if peer == "fer":
            detector, classifier = fer_peer()
            pipelines.append(Pipeline("peer fer haar+mini-xception", "peer", "dynamic", 1, detector, classifier,
                                      classifier.path.stat().st_size))
    return pipelines


def build_pipelines(options: BenchOptions) -> list[Pipeline]:
    """Every pipeline of the comparison, full path first."""
    tflite, keras = list(options.tflite), options.keras
    if not tflite or (options.full and keras is None):
        shipped_tflite, shipped_keras = shipped_models()
        tflite = tflite or shipped_tflite
        keras = keras or shipped_keras
    pipelines = [_full_pipeline(Path(keras), options.detection)] if options.full else []
    edge = _edge_pipelines(tflite, options.threads, options.detection, options.detect_widths, options.tta)
    return pipelines + edge + _peer_pipelines(options.peers)


def run_benchmark(frames: list[Frame], options: BenchOptions, progress: bool = False) -> list[BenchRecord]:
    """Measure every pipeline on the same frames, interleaved (`measure_all`), then score them (accuracy, or
    agreement with the full path)."""
    records = measure_all(build_pipelines(options), frames, options.runs, options.warmup, progress)
    return score(records, frames, FULL if options.full else None)
