"""The main job behind `make demo`: train the paper model briefly, evaluate it, write its report."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fer_edge.dataset import has_split_folders
from fer_edge.errors import FerEdgeError
from fer_edge.evaluation import evaluate_and_report
from fer_edge.synthetic import write_synthetic_dataset
from train.training import TrainOptions, train


@dataclass(frozen=True)
class DemoResult:
    """Where the demo's data came from, its metrics and files."""

    data: Path
    metrics: dict
    files: dict[str, Path]


def run_demo(out_dir: str | Path, data: str | Path | None = None, epochs: int = 3,
             max_per_class: int = 400) -> DemoResult:
    """Train `paper_cnn` on `data` (or generated cartoon faces), evaluate on its val split.

    `out_dir` is replaced on every run, so the demo can be repeated.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    if data is None:
        data = out_dir / "synthetic-faces"
        write_synthetic_dataset(data / "train", per_class=160, seed=0)
        write_synthetic_dataset(data / "val", per_class=40, seed=1)
    data = Path(data)
    options = TrainOptions(epochs=epochs, max_per_class=max_per_class, verbose=2)
    result = train(data, out_dir / "run", options)
    if not (has_split_folders(data) and (data / "val").is_dir()):
        raise FerEdgeError(f"the demo needs held-out images: {data} must hold train/ and val/ folders")
    report = evaluate_and_report(result.model_path, data, "val", out_dir / "report")
    files = {"model": result.model_path, **report.files}
    return DemoResult(data, report.metrics, files)
