"""Multiply-accumulates per face of a Keras model, and what a measured latency implies.

Usage: .venv/bin/python benchmarks/macs.py MODEL.keras [--ms 0.24]
Counts Conv2D, SeparableConv2D, DepthwiseConv2D and Dense MACs from the layer shapes.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def layer_macs(layer) -> int:
    """MACs of one layer for a single input (0 for layers without multiplies worth counting)."""
    kind = type(layer).__name__
    out = layer.output.shape[1:]
    if kind == "Conv2D":
        kh, kw, cin, cout = layer.kernel.shape
        return int(np.prod(out[:2]) * kh * kw * cin * cout)
    if kind == "SeparableConv2D":
        kh, kw, cin, mult = layer.depthwise_kernel.shape
        return int(np.prod(out[:2]) * (kh * kw * cin * mult + cin * mult * out[-1]))
    if kind == "DepthwiseConv2D":
        kh, kw, cin, mult = layer.kernel.shape
        return int(np.prod(out[:2]) * kh * kw * cin * mult)
    if kind == "Dense":
        return int(np.prod(layer.kernel.shape))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--ms", type=float, default=None, help="measured classifier latency per face")
    args = parser.parse_args()
    from fer_edge.train.keras_io import load_keras_model

    model, _ = load_keras_model(args.model)
    macs = sum(layer_macs(layer) for layer in model.layers)
    report = {"model": args.model, "params": model.count_params(), "macs_per_face": macs}
    if args.ms:
        report["implied_gmac_per_s"] = round(macs / (args.ms / 1000) / 1e9, 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
