"""int8 with one weight scale per tensor except a few layers that keep one per channel: fidelity and accuracy.

    .venv/bin/python benchmarks/mixed_weight_scales.py fer_edge/models/default.keras --seeds 0,1,2,3 \
        --json docs/default-model/mixed-weight-scales.json

For each calibration seed the model is converted to int8 twice from the same calibration faces (`--per-tensor`, and
TFLite's per-channel default): the same graph with the same activation ranges, only the weights' scales differ. A
mix is the per-tensor file with the weights and biases of chosen layers taken from the per-channel file. Layers are
chosen greedily on the calibration faces (FER+ `train`), each step adding the layer that brings the int8
probabilities closest to the float model's (mean L1 distance), never on the faces scored. Every file is scored on
FER+ `valid` (majority labels) and FER2013 `val` (original labels) with the model's recorded TTA, and by top-1
agreement with the float model there without TTA.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

import numpy as np

from fer_edge.convert.calibration import calibration_pixels
from fer_edge.convert.tflite import convert_model, embed_metadata
from fer_edge.dataset import load_labeled_folder
from fer_edge.evaluation import report_labels
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.model_files import load_classifier
from fer_edge.tflite_metadata import DIGEST_KEY, METADATA_NAME, read_embedded_json

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def per_channel_layers(model) -> dict[int, list[int]]:
    """{operator index: its weight and bias tensors} for the operators whose weights have one scale per channel."""
    graph = model.subgraphs[0]

    def per_channel(index: int) -> bool:
        quantization = graph.tensors[index].quantization
        return index >= 0 and quantization is not None and quantization.scale is not None \
            and len(quantization.scale) > 1

    layers = {i: [t for t in op.inputs[1:] if per_channel(t)] for i, op in enumerate(graph.operators)}
    return {i: tensors for i, tensors in layers.items() if tensors}


def scale_bytes(model, tensors: list[int]) -> int:
    """What the extra scales of `tensors` cost in the file: 12 bytes (float32 scale, int64 zero point) each."""
    return sum(12 * (len(model.subgraphs[0].tensors[t].quantization.scale) - 1) for t in tensors)


def mix(per_tensor: bytes, per_channel: bytes, layers: set[int]) -> bytes:
    """The per-tensor model with `layers`' weights and biases (values and scales) from the per-channel model."""
    from tensorflow.lite.tools import flatbuffer_utils

    target = flatbuffer_utils.convert_bytearray_to_object(bytearray(per_tensor))
    source = flatbuffer_utils.convert_bytearray_to_object(bytearray(per_channel))
    for layer, tensors in per_channel_layers(source).items():
        for index in tensors if layer in layers else []:
            into, came = target.subgraphs[0].tensors[index], source.subgraphs[0].tensors[index]
            if into.name != came.name or list(into.shape) != list(came.shape):
                raise ValueError(f"the two conversions differ at tensor {index}: {into.name} / {came.name}")
            into.quantization = came.quantization
            target.buffers[into.buffer].data = source.buffers[came.buffer].data
    for entry in target.metadata:  # embed_metadata adds the metadata anew: empty the old buffer
        if entry.name == METADATA_NAME.encode():
            target.buffers[entry.buffer].data = None
    metadata = {k: v for k, v in read_embedded_json(per_tensor).items() if k != DIGEST_KEY}
    extra = {**metadata["extra"], "weight_scales": "mixed", "per_channel_layers": sorted(layers)}
    return embed_metadata(bytes(flatbuffer_utils.convert_object_to_bytearray(target)), {**metadata, "extra": extra})


@contextlib.contextmanager
def model_file(model_bytes: bytes):
    """`model_bytes` as a `.tflite` file in a temporary folder, for the runtime's loaders."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mix.tflite"
        path.write_bytes(model_bytes)
        yield path


def probabilities(model_bytes: bytes, pixels: np.ndarray) -> np.ndarray:
    with model_file(model_bytes) as path:
        return np.asarray(TFLiteClassifier(path, 1).predict_pixels(pixels))


def greedy(per_tensor: bytes, per_channel: bytes, pixels: np.ndarray, reference: np.ndarray, steps: int) -> list:
    """Layers added one at a time, each the one that brings the mix closest to `reference` (mean L1)."""
    from tensorflow.lite.tools import flatbuffer_utils

    source = flatbuffer_utils.convert_bytearray_to_object(bytearray(per_channel))
    layers, chosen, rows = per_channel_layers(source), set(), []
    for _ in range(steps):
        distance = {layer: float(np.abs(probabilities(mix(per_tensor, per_channel, chosen | {layer}), pixels)
                                        - reference).sum(axis=1).mean()) for layer in layers if layer not in chosen}
        best = min(distance, key=distance.get)
        chosen.add(best)
        rows.append({"layers": sorted(chosen), "l1_to_float": distance[best],
                     "extra_bytes": sum(scale_bytes(source, layers[layer]) for layer in chosen)})
    return rows


def scored(model_bytes: bytes, faces: dict) -> dict:
    """Accuracy (recorded TTA), lowest recall and top-1 agreement with float (no TTA) on each labelled split."""
    with model_file(model_bytes) as path:
        shipped, plain = load_classifier(path), load_classifier(path, tta="none")
        result = {}
        for name, (pixels, truth, reference) in faces.items():
            predicted = np.asarray(shipped.predict_pixels(pixels)).argmax(axis=1)
            recalls = [float((predicted[truth == c] == c).mean()) for c in np.unique(truth)]
            agreement = float((np.asarray(plain.predict_pixels(pixels)).argmax(axis=1) == reference).mean())
            result[name] = {"accuracy": float((predicted == truth).mean()), "lowest_recall": min(recalls),
                            "agreement_with_float": agreement}
        return {**result, "bytes": len(model_bytes)}


def labelled_faces(float_model) -> dict:
    prep, labels = float_model.metadata.preprocessing, float_model.metadata.labels
    faces = {}
    for name, folder in (("ferplus_valid", SHARED / "ferplus" / "valid"), ("fer2013_val", SHARED / "fer2013" / "val")):
        classes, split, _ = load_labeled_folder(folder, prep)
        truth = report_labels(classes, labels)[1][split.labels]
        faces[name] = (split.pixels, truth, np.asarray(float_model.predict_pixels(split.pixels)).argmax(axis=1))
    return faces


def one_seed(model: Path, seed: int, samples: int, steps: int, float_model, faces: dict, work: Path) -> dict:
    files = {}
    for name, per_tensor in (("per_tensor", True), ("per_channel", False)):
        out = work / f"{name}-{seed}.tflite"
        convert_model(model, out, "int8", SHARED / "ferplus", samples, seed, per_tensor)
        files[name] = out.read_bytes()
    pixels = calibration_pixels(SHARED / "ferplus", float_model.metadata.preprocessing, samples, seed)
    steps_taken = greedy(files["per_tensor"], files["per_channel"], pixels,
                         np.asarray(float_model.predict_pixels(pixels)), steps)
    rows = {"per_tensor": scored(files["per_tensor"], faces), "per_channel": scored(files["per_channel"], faces)}
    for step in steps_taken:
        mixed = mix(files["per_tensor"], files["per_channel"], set(step["layers"]))
        rows[f"mixed_{len(step['layers'])}"] = {**step, **scored(mixed, faces)}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a .keras model (with its .meta.json)")
    parser.add_argument("--seeds", default="0,1,2,3", help="calibration seeds, comma-separated")
    parser.add_argument("--samples", type=int, default=500, help="calibration faces (FER+ train)")
    parser.add_argument("--steps", type=int, default=4, help="layers chosen greedily")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    float_model = load_classifier(args.model, tta="none")
    faces = labelled_faces(float_model)
    with tempfile.TemporaryDirectory() as work:
        result = {"model": str(args.model), "samples": args.samples,
                  "seeds": {seed: one_seed(args.model, int(seed), args.samples, args.steps, float_model, faces,
                                           Path(work)) for seed in args.seeds.split(",")}}
    for seed, rows in result["seeds"].items():
        for name, row in rows.items():
            print(f"seed {seed} {name:12s} " + "  ".join(
                f"{split} {row[split]['accuracy']:.4f} low {row[split]['lowest_recall']:.3f} "
                f"agree {row[split]['agreement_with_float']:.4f}" for split in ("ferplus_valid", "fer2013_val"))
                  + f"  {row['bytes']} B")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
