"""A two-head model's first (FER+) head alone, saved as a one-head model: e.g. a teacher for that head only.

`fer-edge train --teacher` teaches the student's second head too when the teacher has one; a teacher
made by this script teaches the first head alone, and the second learns from its labels. It is the
model a two-head run saves as `model.keras`, for two-head models committed without it:

    .venv/bin/python benchmarks/primary_head.py docs/wide-experiment/final/heads.keras runs/teachers/wide.keras
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from fer_edge.native_logs import quiet_native_libraries

quiet_native_libraries()  # before fer_edge.train imports TensorFlow: its C++ start-up lines off, as in the CLI

from fer_edge.model_files import require_distinct_output  # noqa: E402
from fer_edge.train.fuse import fused_model, load_members  # noqa: E402
from fer_edge.train.heads import Fusion, class_mapping  # noqa: E402
from fer_edge.train.keras_io import save_keras_model  # noqa: E402


def save_primary_head(heads_path: Path, out: Path) -> Path:
    """Save the first head of the two-head model at `heads_path` as a one-head model at `out`.

    Raises:
        FerEdgeError: `heads_path` is not a two-head model, or `out` would replace it.
    """
    require_distinct_output(out, [heads_path])
    (heads,), (metadata,), aux_labels = load_members([heads_path])
    single = fused_model(heads, metadata, class_mapping(aux_labels, metadata.labels), Fusion())  # aux weight 0
    extra = {key: value for key, value in metadata.extra.items() if key != "aux_labels"}
    return save_keras_model(single, replace(metadata, extra={**extra, "primary_head_of": str(heads_path)}), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("heads", type=Path, help="a two-head model (heads.keras)")
    parser.add_argument("out", type=Path, help="the one-head model to write (.keras)")
    args = parser.parse_args()
    print(save_primary_head(args.heads, args.out))


if __name__ == "__main__":
    main()
