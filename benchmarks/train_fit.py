"""How closely a model's FER+ head fits the faces it was trained on, against faces it never saw.

Offline distillation (`fer-edge train --teacher`) asks a teacher about its own training faces. If the
teacher had memorized them, its answers there would repeat the training targets and teach nothing
new. This compares, on FER+ `train` and `valid` (vote shares), the head's agreement with the vote
majority, its mean top probability and KL(votes || model), without augmentation or mirror:

    .venv/bin/python benchmarks/train_fit.py docs/default-model/two-head/heads.keras \\
        --json docs/distillation/train-fit-default.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fer_edge.native_logs import quiet_native_libraries

quiet_native_libraries()  # before fer_edge.train imports TensorFlow: its C++ start-up lines off, as in the CLI

from fer_edge.dataset import load_split  # noqa: E402
from fer_edge.preprocess import normalize  # noqa: E402
from fer_edge.train.fuse import load_members  # noqa: E402
from fer_edge.train.heads import head_logits, softmax  # noqa: E402


def fit(probabilities: np.ndarray, votes: np.ndarray) -> dict:
    """Agreement with the vote majority, mean top probability and mean KL(votes || model) of N faces."""
    model = np.clip(probabilities, 1e-9, 1.0)
    shares = np.clip(votes, 1e-9, 1.0)
    return {"faces": len(votes),
            "majority_agreement": float((probabilities.argmax(axis=1) == votes.argmax(axis=1)).mean()),
            "mean_top_probability": float(probabilities.max(axis=1).mean()),
            "kl_votes_to_model": float((votes * (np.log(shares) - np.log(model))).sum(axis=1).mean())}


def split_fit(heads, metadata, folder: Path) -> dict:
    """`fit` of the primary head of two-head model `heads` on the vote folder `folder`."""
    _, split, _ = load_split(folder, metadata.preprocessing, label_mode="probability")
    logits, _ = head_logits(heads, normalize(split.pixels, metadata.preprocessing))
    return fit(softmax(logits), split.targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("heads", type=Path, help="a two-head model (heads.keras)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ferplus"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    members, metadata, _ = load_members([args.heads])
    report = {"model": str(args.heads),
              **{split: split_fit(members[0], metadata[0], args.data / split) for split in ("train", "valid")}}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
