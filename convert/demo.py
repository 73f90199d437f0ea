"""The main job behind `make demo`: train the paper model briefly, evaluate it, write its report."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fer_edge.convert.tflite import convert_model
from fer_edge.convert.verify import verify
from fer_edge.bench import default_frames
from fer_edge.bench_suite import BenchOptions, run_benchmark
from fer_edge.dataset import has_split_folders
from fer_edge.errors import FerEdgeError
from fer_edge.evaluation import evaluate_and_report, evaluate_classifier
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.model_files import default_model_path
from fer_edge.synthetic import write_synthetic_dataset
from fer_edge.train.training import TrainOptions, train


@dataclass(frozen=True)
class DemoResult:
    """Where the demo's data came from, its metrics and files."""

    data: Path
    metrics: dict
    files: dict[str, Path]
    verification: dict
    bench: list
    default_accuracy: float | None = None  # the shipped model on the same val split (real data only)


def run_demo(out_dir: str | Path, data: str | Path | None = None, epochs: int = 3,
             max_per_class: int = 400) -> DemoResult:
    """The pipeline end to end: train `paper_cnn` on `data` (or generated cartoon faces),
    evaluate on its val split, convert to int8 calibrated on its training faces, verify the
    conversion, and benchmark the full path against the edge path on real-face frames. On real
    data the shipped default model is evaluated on the same val split and benchmarked beside it.

    `out_dir` is replaced on every run, so the demo can be repeated.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    synthetic = data is None
    if synthetic:
        data = out_dir / "synthetic-faces"
        write_synthetic_dataset(data / "train", per_class=160, seed=0)
        write_synthetic_dataset(data / "val", per_class=40, seed=1)
    data = Path(data)
    if not (has_split_folders(data) and (data / "val").is_dir()):
        raise FerEdgeError(f"the demo needs held-out images: {data} must hold train/ and val/ folders")
    options = TrainOptions(epochs=epochs, max_per_class=max_per_class, verbose=2)
    result = train(data, out_dir / "run", options)
    report = evaluate_and_report(result.model_path, data, "val", out_dir / "report")
    int8 = convert_model(result.model_path, out_dir / "model_int8.tflite", "int8", data, samples=300)
    verification = verify(result.model_path, int8.path, data, "val").to_dict()
    shipped = default_model_path()
    default_accuracy = None if synthetic else evaluate_classifier(TFLiteClassifier(shipped), data, "val").report.accuracy
    bench = BenchOptions(tflite=(int8.path, shipped), keras=result.model_path, threads=(1,), runs=50, warmup=5,
                         detect_widths=(0, 320))
    records = run_benchmark(default_frames(), bench, progress=True)
    files = {"model": result.model_path, "int8 model": int8.path, **report.files}
    return DemoResult(data, report.metrics, files, verification, records, default_accuracy)
