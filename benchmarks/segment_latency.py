"""Where a network's time goes: its int8 prefixes up to each named layer, timed side by side.

    .venv/bin/python benchmarks/segment_latency.py docs/default-model/finetune-noaug/heads.keras \
        --cut stem2_relu --cut block1_add --cut block2_add --cut block2_middle2_add --cut block3_add

Each prefix (input to the layer named, and the whole model last) is converted to full-integer int8, calibrated on
100 FER+ `valid` faces, and timed with one interpreter thread on a batch of one and of two (the mirror view),
in interleaved rounds; the difference between consecutive prefixes is what that segment costs.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from classifier_latency import turns

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def int8_prefix(model, layer: str | None, faces: np.ndarray) -> bytes:
    """The int8 TFLite bytes of `model` up to `layer`'s output (None: the whole model)."""
    import keras
    import tensorflow as tf

    prefix = keras.Model(model.inputs, model.get_layer(layer).output if layer else model.outputs)
    converter = tf.lite.TFLiteConverter.from_keras_model(prefix)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([faces[i:i + 1]] for i in range(len(faces)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    with warnings.catch_warnings():  # as convert/tflite.py: the input's statistics come from the calibration
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected", category=UserWarning)
        return converter.convert()


def timed(interpreters: dict, runs: int) -> dict[str, float]:
    """Median ms of each interpreter's invoke, interleaved in classifier_latency's `turns`."""
    times = {name: [] for name in interpreters}
    for _, name in turns(list(interpreters), runs):
        interpreter, tensor, inputs = interpreters[name]
        start = time.perf_counter()
        interpreter.set_tensor(tensor, inputs)
        interpreter.invoke()
        times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(ms[10:])) for name, ms in times.items()}


def main() -> None:
    from fer_edge.dataset import load_labeled_folder
    from fer_edge.interpreter import interpreter_module
    from fer_edge.preprocess import normalize
    from fer_edge.train.keras_io import load_keras_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--cut", action="append", default=[], help="a layer name (repeatable, in network order)")
    parser.add_argument("--data", type=Path, default=SHARED / "ferplus" / "valid")
    parser.add_argument("--runs", type=int, default=1500)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    model, metadata = load_keras_model(args.model)
    faces = normalize(load_labeled_folder(args.data, metadata.preprocessing)[1].pixels[:100], metadata.preprocessing)
    interpreters = {}
    for cut in [*args.cut, None]:
        content = int8_prefix(model, cut, faces)
        for batch in (1, 2):
            interpreter = interpreter_module().Interpreter(model_content=content, num_threads=1)
            tensor = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(tensor, (batch, *metadata.preprocessing.input_shape))
            interpreter.allocate_tensors()
            zeros = np.zeros((batch, *metadata.preprocessing.input_shape), np.int8)
            interpreters[f"{cut or 'whole model'}, batch {batch}"] = (interpreter, tensor, zeros)
    result = timed(interpreters, args.runs)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
