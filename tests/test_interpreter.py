"""The TensorFlow-free interpreter wrapper: quantization, metadata, delegates and bad models."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_edge.errors import FerEdgeError, ModelError
from fer_edge.interpreter import (MAX_THREADS, TensorInfo, TFLiteClassifier, dequantize, input_table, load_delegates,
                                  quantize)
from fer_edge.preprocess import Preprocessing, normalize
from fer_edge.model_files import shipped_model_path
from fer_edge.tflite_metadata import read_embedded_json

ROOT = Path(__file__).resolve().parent.parent


def test_quantize_round_trip_golden_values():
    tensor = TensorInfo(0, (1,), np.int8, 1 / 255, -128)
    q = quantize(np.array([0.0, 128 / 255, 1.0, 2.0], np.float32), tensor)
    assert q.tolist() == [-128, 0, 127, 127]  # clipped at the int8 range
    np.testing.assert_allclose(dequantize(q[:3], tensor), [0.0, 128 / 255, 1.0], atol=1e-6)


@pytest.mark.parametrize("tensor", [TensorInfo(0, (1, 48, 48, 1), np.int8, 1 / 255, -128),
                                    TensorInfo(0, (1, 64, 64, 1), np.uint8, 2 / 255, 3),
                                    TensorInfo(0, (1, 64, 64, 1), np.float32, 0.0, 0)])
@pytest.mark.parametrize("prep", [Preprocessing((48, 48), "grayscale"),
                                  Preprocessing((64, 64), "grayscale", scale=2 / 255, offset=-1.0)])
def test_the_input_table_gives_what_normalizing_and_quantizing_give(tensor, prep):
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    expected = normalize(pixels, prep)
    expected = quantize(expected, tensor) if tensor.quantized else expected.astype(tensor.dtype)
    looked_up = input_table(prep, tensor).take(pixels)
    assert looked_up.dtype == expected.dtype
    np.testing.assert_array_equal(looked_up, expected)
    if tensor.dtype == np.int8 and prep.offset == 0.0:  # golden: pixel / 255 at scale 1/255, zero point -128
        assert looked_up.ravel()[[0, 1, 128, 255]].tolist() == [-128, -127, 0, 127]


def test_runtime_without_tensorflow(converted, tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "import numpy as np\n"
        "from fer_edge.interpreter import TFLiteClassifier\n"
        f"c = TFLiteClassifier({str(converted['int8'].path)!r})\n"
        f"p = c.predict_pixels(np.load({str(tmp_path / 'pixels.npy')!r}))\n"
        "print(p.shape, round(float(p.sum()), 1))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') and sys.modules[m]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["(3, 4) 3.0", "[]"]


def test_wrong_pixel_shape(converted):
    classifier = TFLiteClassifier(converted["fp32"].path)
    with pytest.raises(FerEdgeError, match="expected pixels"):
        classifier.predict_pixels(np.zeros((1, 64, 64, 3), np.uint8))


@pytest.mark.parametrize("tta", ["none", "mirror"])
def test_shipped_classifier_on_odd_pixel_batches(tta):
    from fer_edge.model_files import load_classifier

    classifier = load_classifier("default", tta=tta)
    assert classifier.predict_pixels(np.zeros((0, 48, 48, 1), np.uint8)).shape == (0, 8)  # no faces, no rows
    for floats in (np.full((1, 48, 48, 1), np.nan, np.float32), np.full((1, 48, 48, 1), 0.5),
                   np.full((1, 48, 48, 1), 128).tolist()):
        with pytest.raises(FerEdgeError, match="expected uint8 model pixels"):  # not silently quantized
            classifier.predict_pixels(floats)
    with pytest.raises(FerEdgeError, match="expected pixels"):
        classifier.predict_pixels(np.zeros((48, 48), np.uint8))


def plain_tflite(input_shape=(8, 8, 3)) -> bytes:
    """A TFLite model with no fer-edge metadata: mean colour -> 2-class softmax."""
    import tensorflow as tf

    module = tf.Module()
    weights = tf.constant([[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])
    module.f = tf.function(lambda x: tf.nn.softmax(tf.reduce_mean(x, axis=[1, 2]) @ weights),
                           input_signature=[tf.TensorSpec([None, *input_shape], tf.float32)])
    return tf.lite.TFLiteConverter.from_concrete_functions([module.f.get_concrete_function()], module).convert()


@pytest.mark.workstation
def test_sidecar_is_the_fallback(tmp_path):
    from fer_edge.metadata import ModelMetadata, save_metadata
    from fer_edge.preprocess import Preprocessing

    path = tmp_path / "bare.tflite"
    path.write_bytes(plain_tflite())
    assert read_embedded_json(path.read_bytes()) is None
    save_metadata(ModelMetadata(("cold", "warm"), Preprocessing((8, 8))), tmp_path / "bare.meta.json")
    classifier = TFLiteClassifier(path)
    assert classifier.metadata.labels == ("cold", "warm")
    red = np.zeros((1, 8, 8, 3), np.uint8)
    red[..., 0] = 255
    assert classifier.predict_pixels(red)[0].argmax() == 0


def test_missing_corrupt_and_metadata_less_models(converted, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        TFLiteClassifier(tmp_path / "none.tflite")
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a TensorFlow Lite model"):
        TFLiteClassifier(tmp_path / "junk.tflite")
    truncated = converted["fp32"].path.read_bytes()[:5000]
    (tmp_path / "cut.tflite").write_bytes(truncated)
    with pytest.raises(ModelError):
        TFLiteClassifier(tmp_path / "cut.tflite")


@pytest.mark.workstation
def test_model_without_metadata(tmp_path):
    (tmp_path / "plain.tflite").write_bytes(plain_tflite())
    with pytest.raises(ModelError, match="no fer-edge metadata"):
        TFLiteClassifier(tmp_path / "plain.tflite")


def test_metadata_that_does_not_match_the_model(converted, tmp_path):
    import json

    from fer_edge.convert.tflite import embed_metadata

    meta = read_embedded_json(converted["fp32"].path.read_bytes())
    meta["labels"] = meta["labels"] + ["extra"]
    (tmp_path / "m.tflite").write_bytes(embed_metadata(converted["fp32"].path.read_bytes(), meta))
    with pytest.raises(ModelError, match="outputs for 5 labels"):
        TFLiteClassifier(tmp_path / "m.tflite")
    meta["labels"] = meta["labels"][:-1]
    meta["preprocessing"]["input_size"] = [48, 48]
    (tmp_path / "m.tflite").write_bytes(embed_metadata(converted["fp32"].path.read_bytes(), meta))
    with pytest.raises(ModelError, match="takes input"):
        TFLiteClassifier(tmp_path / "m.tflite")
    assert json.dumps(meta)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # LiteRT's Delegate.__del__
def test_missing_gpu_delegate_falls_back_or_fails(converted, caplog):
    assert load_delegates(None) == [] and load_delegates("cpu") == []
    assert load_delegates("gpu") == []
    assert "running on the CPU" in caplog.text
    with pytest.raises(FerEdgeError, match="cannot load the 'gpu' delegate"):
        load_delegates("gpu", require=True)
    with pytest.raises(FerEdgeError, match="/no/such/delegate.so"):
        TFLiteClassifier(converted["fp16"].path, delegate="/no/such/delegate.so", require_delegate=True)
    classifier = TFLiteClassifier(converted["fp16"].path, delegate="gpu")
    assert classifier.predict_pixels(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 4)


def test_threads_must_be_positive(converted):
    with pytest.raises(FerEdgeError, match="threads"):
        TFLiteClassifier(converted["fp32"].path, threads=0)


@pytest.mark.parametrize("threads, message", [
    (0, "threads must be between 1 and 64, got 0"), (MAX_THREADS + 1, "threads must be between 1 and 64, got 65"),
    (100_000, "threads must be between 1 and 64, got 100000"),  # crashed the process in native code
    ("2", "interpreter: threads must be a whole number, got '2' (str)"),  # ended in a TypeError
    (2.0, "interpreter: threads must be a whole number, got 2.0 (float)"),
    (True, "interpreter: threads must be a whole number, got True (bool)")])
def test_threads_outside_1_to_64_are_refused_before_the_interpreter_starts(threads, message):
    with pytest.raises(FerEdgeError, match=f"^{re.escape(message)}$"):
        TFLiteClassifier(shipped_model_path("default"), threads=threads)
    assert TFLiteClassifier(shipped_model_path("default"), threads=MAX_THREADS).metadata.labels


def test_converted_models_record_their_sha256_and_refuse_any_changed_byte(converted, tmp_path):
    """The seal: a fixed-seed fuzz of single-byte changes anywhere in the file; every one is refused."""
    import hashlib

    from fer_edge.tflite_metadata import DIGEST_KEY, UNSEALED

    original = converted["int8"].path.read_bytes()
    digest = read_embedded_json(original)[DIGEST_KEY]
    unsealed = original.replace(digest.encode(), UNSEALED.encode())
    assert hashlib.sha256(unsealed).hexdigest() == digest  # the digest of the whole file, taken unsealed
    TFLiteClassifier(converted["int8"].path)  # the intact file loads
    rng = np.random.default_rng(14)
    for trial, position in enumerate(rng.integers(0, len(original), 40)):
        damaged = bytearray(original)
        damaged[position] ^= int(rng.integers(1, 256))
        path = tmp_path / f"damaged{trial}.tflite"
        path.write_bytes(bytes(damaged))
        with pytest.raises(ModelError, match="changed or damaged|damaged TensorFlow Lite|not a TensorFlow Lite|invalid model metadata"):
            TFLiteClassifier(path)


def test_models_without_a_recorded_sha256_still_load(converted, tmp_path):
    """Files converted before models were sealed carry no digest: they load unchecked."""
    from fer_edge.tflite_metadata import DIGEST_KEY

    data = converted["fp32"].path.read_bytes()
    field = f'"{DIGEST_KEY}": "{read_embedded_json(data)[DIGEST_KEY]}"'.encode()
    legacy = data.replace(field, b'"legacy_sha256_": "' + b"0" * 64 + b'"')  # same length: the layout stays valid
    (tmp_path / "legacy.tflite").write_bytes(legacy)
    assert DIGEST_KEY not in read_embedded_json(legacy)
    assert TFLiteClassifier(tmp_path / "legacy.tflite").metadata.labels == converted["fp32"].metadata.labels


def test_a_library_that_is_not_a_delegate_falls_back_without_stray_tracebacks(converted, caplog, capfd):
    import ctypes.util

    library = ctypes.util.find_library("z") or ctypes.util.find_library("m")
    if library is None:
        pytest.skip("no system shared library to pose as a delegate")
    classifier = TFLiteClassifier(converted["fp16"].path, delegate=library)
    assert classifier.predict_pixels(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 4)
    assert "not a TensorFlow Lite delegate library" in caplog.text and "running on the CPU" in caplog.text
    with pytest.raises(FerEdgeError, match="not a TensorFlow Lite delegate library"):
        load_delegates(library, require=True)
    load_delegates("gpu")
    import gc

    gc.collect()
    assert "Traceback" not in capfd.readouterr().err
