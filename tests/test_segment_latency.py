"""benchmarks/segment_latency.py: int8 prefixes of a network, and their interleaved timing."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def segment_latency():
    return load_benchmark("segment_latency")


def test_a_prefix_ends_at_the_layer_named_and_runs_as_int8(segment_latency):
    from fer_edge.interpreter import interpreter_module
    from fer_edge.train.models import build_model

    model = build_model("sepnet", 3, (48, 48, 1))
    faces = np.random.default_rng(0).random((8, 48, 48, 1), dtype=np.float32)
    content = segment_latency.int8_prefix(model, "block1_add", faces)
    interpreter = interpreter_module().Interpreter(model_content=content)
    interpreter.allocate_tensors()
    (tensor,), (output,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert tensor["dtype"] == np.int8 and output["dtype"] == np.int8
    assert tuple(output["shape"]) == (1, *model.get_layer("block1_add").output.shape[1:])


def test_timing_is_interleaved_in_turn(segment_latency):
    calls = []

    class Fake:
        def __init__(self, name):
            self.name = name

        def set_tensor(self, tensor, inputs):
            calls.append(self.name)

        def invoke(self):
            pass

    medians = segment_latency.timed({name: (Fake(name), 0, None) for name in "ab"}, runs=12)
    assert set(medians) == {"a", "b"} and all(ms >= 0 for ms in medians.values())
    assert "".join(calls[:4]) == "abba" and len(calls) == 24
