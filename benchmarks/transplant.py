"""A two-head model's weights in another registered architecture, layer by layer by name, as a start for `--init-from`.

    .venv/bin/python benchmarks/transplant.py docs/default-model/two-head/heads.keras --arch sepnet \
        --out runs/sepnet-from-A/heads.keras

Every layer with weights in the new architecture must exist, with the same shapes, in the source; the source's
other layers are dropped (`sepnet_deep` -> `sepnet` drops its two identity-shortcut middle blocks).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from fer_edge.train.heads import with_aux_head
from fer_edge.train.keras_io import load_keras_model, save_keras_model
from fer_edge.train.models import build_model, model_names


def transplant(source_path: Path, arch: str):
    """The model of `arch` (with the source's second head) holding the source's weights, and the layers dropped."""
    source, metadata = load_keras_model(source_path)
    model = build_model(arch, len(metadata.labels), metadata.preprocessing.input_shape)
    if metadata.extra.get("aux_labels"):
        model = with_aux_head(model, len(metadata.extra["aux_labels"]))
    kept = {layer.name for layer in model.layers if layer.weights}
    missing = sorted(kept - {layer.name for layer in source.layers})
    if missing:
        raise SystemExit(f"{source_path} has no layers {missing} of {arch}")
    for name in kept:
        try:
            model.get_layer(name).set_weights(source.get_layer(name).get_weights())
        except ValueError as exc:
            raise SystemExit(f"layer {name} of {arch} does not fit {source_path}'s: {exc}") from exc
    dropped = sorted(layer.name for layer in source.layers if layer.weights and layer.name not in kept)
    return model, replace(metadata, arch=arch), dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--arch", required=True, choices=model_names())
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model, metadata, dropped = transplant(args.source, args.arch)
    save_keras_model(model, metadata, args.out)
    print(f"wrote {args.out}; dropped {', '.join(dropped) or 'nothing'}")


if __name__ == "__main__":
    main()
