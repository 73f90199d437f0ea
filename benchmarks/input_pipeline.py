"""Is training limited by the model or by the input? Measures both rates side by side in one run.

Usage: .venv/bin/python benchmarks/input_pipeline.py [DATA] [--arch paper_cnn] [--batches 60]
Prints JSON: images/s of the tf.data pipeline alone (with augmentation) and of full
training steps of the model fed by that pipeline.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013"


def images_per_second(batches, count: int, batch_size: int, step=lambda batch: None) -> float:
    """Median rate over 5 rounds of `count` batches, after one warm-up round."""
    rates = []
    for round_index in range(6):
        start = time.perf_counter()
        for _, batch in zip(range(count), batches):
            step(batch)
        if round_index:
            rates.append(count * batch_size / (time.perf_counter() - start))
    return float(np.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--arch", default="paper_cnn")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--max-per-class", type=int, default=500)
    args = parser.parse_args()

    from fer_edge.dataset import load_dataset
    from fer_edge.preprocess import Preprocessing
    from fer_edge.train.models import build_model
    from fer_edge.train.pipeline import make_dataset
    from fer_edge.train.training import TrainOptions, compile_model

    prep, batch_size = Preprocessing(), 32
    dataset = load_dataset(args.data, prep, max_per_class=args.max_per_class)
    classes = len(dataset.classes)
    pipeline = make_dataset(dataset.splits["train"], prep, classes, batch_size, True, augment="full").repeat()
    batches = iter(pipeline)
    model = build_model(args.arch, classes, prep.input_shape)
    compile_model(model, TrainOptions(arch=args.arch), classes)
    input_rate = images_per_second(batches, args.batches, batch_size)
    train_rate = images_per_second(batches, args.batches, batch_size, lambda b: model.train_on_batch(*b))
    print(json.dumps({"arch": args.arch, "batch_size": batch_size, "input_pipeline_images_per_s": round(input_rate),
                      "training_images_per_s": round(train_rate),
                      "input_headroom": round(input_rate / train_rate, 1)}, indent=2))


if __name__ == "__main__":
    main()
