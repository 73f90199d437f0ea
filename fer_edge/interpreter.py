"""TFLite interpreter: LiteRT (falling back to tflite-runtime, then tf.lite), delegates, quantized I/O.

One `TFLiteClassifier` wraps one interpreter; interpreters are not thread-safe, so use one
per thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.checks import require_whole_numbers
from fer_edge.errors import FerEdgeError, ModelError
from fer_edge.metadata import ModelMetadata
from fer_edge.native_logs import native_stderr_silenced
from fer_edge.preprocess import Preprocessing, normalize
from fer_edge.tflite_metadata import load_tflite_metadata

logger = logging.getLogger(__name__)

GPU_DELEGATE_LIBRARY = "libtensorflowlite_gpu_delegate.so"
MAX_BATCH = 64  # faces per invoke; bounds activation memory for large evaluations
MAX_THREADS = 64
"""Interpreter threads at most: far past any useful count, well before thread creation fails (100,000 crashed
the process in native code)."""


def interpreter_module():
    """The first importable of ai_edge_litert, tflite_runtime, tensorflow.lite (in that order)."""
    try:
        from ai_edge_litert import interpreter as module
    except ImportError:
        try:
            from tflite_runtime import interpreter as module
        except ImportError:
            try:
                from tensorflow import lite as module
            except ImportError as exc:
                raise FerEdgeError('no TFLite runtime installed: pip install "fer-edge[device]"') from exc
    return module


def load_delegates(delegate: str | None, require: bool = False) -> list:
    """Delegates for `delegate` ("gpu" or a path to a delegate library); [] for CPU.

    A delegate that cannot be loaded falls back to the CPU with a warning, or raises
    FerEdgeError when `require` is set.
    """
    if not delegate or delegate == "cpu":
        return []
    library = GPU_DELEGATE_LIBRARY if delegate == "gpu" else str(delegate)
    problem = _not_a_delegate(library)  # checked first: a failed load_delegate prints tracebacks of its own
    loaded = None
    if problem is None:
        try:
            loaded = interpreter_module().load_delegate(library)
        except (ValueError, OSError, RuntimeError, AttributeError) as exc:
            problem = str(exc)
    if loaded is None:
        message = f"cannot load the {delegate!r} delegate ({library}): {problem}"
        if require:
            raise FerEdgeError(message + "; see the README section on GPU delegates")
        logger.warning("%s; running on the CPU", message)
        return []
    logger.info("delegate %s active", library)
    return [loaded]


def _not_a_delegate(library: str) -> str | None:
    """Why `library` cannot be a TFLite external delegate (missing, unloadable, no plugin entry), or None."""
    import ctypes

    try:
        handle = ctypes.CDLL(library)
    except OSError as exc:
        return str(exc)
    if not hasattr(handle, "tflite_plugin_create_delegate"):
        return "not a TensorFlow Lite delegate library (it has no tflite_plugin_create_delegate)"
    return None


@dataclass(frozen=True)
class TensorInfo:
    """Shape, dtype and quantization of one model tensor (scale 0 means float)."""

    index: int
    shape: tuple[int, ...]
    dtype: type
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        """True for int8/uint8 tensors with a quantization scale."""
        return self.scale != 0.0 and self.dtype in (np.int8, np.uint8)


def _tensor_info(detail: dict) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    signature = detail.get("shape_signature", detail["shape"])
    return TensorInfo(detail["index"], tuple(int(v) for v in signature), detail["dtype"],
                      float(scale), int(zero_point))


def quantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Float values -> the tensor's integer type with its scale and zero point."""
    info = np.iinfo(tensor.dtype)
    q = np.round(values / tensor.scale) + tensor.zero_point
    return np.clip(q, info.min, info.max).astype(tensor.dtype)


def dequantize(values: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """The tensor's integers -> float32."""
    return ((values.astype(np.float32) - tensor.zero_point) * tensor.scale).astype(np.float32)


def input_table(prep: Preprocessing, tensor: TensorInfo) -> np.ndarray:
    """The model input for each of the 256 pixel values: normalized, then quantized where the input is.

    Looking uint8 model pixels up in it gives what normalizing and quantizing them gives, value for value, in one
    array operation instead of five (paid twice for a face that mirror-unsure mirrors).
    """
    values = normalize(np.arange(256, dtype=np.uint8), prep)
    return quantize(values, tensor) if tensor.quantized else values.astype(tensor.dtype)


class TFLiteClassifier:
    """A `.tflite` expression classifier: uint8 model pixels in, class probabilities out.

    Shapes, dtypes and quantization come from the model; labels and preprocessing from its
    embedded metadata. The faces of a call are classified in batched invokes (up to
    MAX_BATCH at a time) when the model's batch dimension is dynamic, else one by one.

    Args:
        path: the `.tflite` file.
        threads: CPU threads for the interpreter.
        delegate: None/"cpu", "gpu", or a path to a delegate library.
        require_delegate: fail instead of falling back to the CPU when the delegate is missing.
        metadata: use this instead of the file's own (for models made elsewhere).
    """

    def __init__(self, path: str | Path, threads: int = 1, delegate: str | None = None,
                 require_delegate: bool = False, metadata: ModelMetadata | None = None):
        self.path = Path(path)
        self.metadata: ModelMetadata = metadata or load_tflite_metadata(self.path)
        require_whole_numbers("interpreter", threads=threads)
        if not 1 <= threads <= MAX_THREADS:
            raise FerEdgeError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
        module = interpreter_module()
        delegates = load_delegates(delegate, require_delegate)
        try:
            with native_stderr_silenced():  # LiteRT's XNNPACK notice
                self._interpreter = module.Interpreter(model_path=str(self.path), num_threads=int(threads),
                                                       experimental_delegates=delegates or None)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load TFLite model {self.path}: {exc}") from exc
        self.input = _tensor_info(self._interpreter.get_input_details()[0])
        self.output = _tensor_info(self._interpreter.get_output_details()[0])
        self._batch = 1
        self._check_shapes()
        self._input_of_pixel = input_table(self.metadata.preprocessing, self.input)

    def _check_shapes(self) -> None:
        expected = self.metadata.preprocessing.input_shape
        if self.input.shape[1:] != expected:
            raise ModelError(f"{self.path} takes input {self.input.shape[1:]} but its metadata says {expected}")
        if self.output.shape[-1] != len(self.metadata.labels):
            raise ModelError(f"{self.path} has {self.output.shape[-1]} outputs for {len(self.metadata.labels)} labels")

    @property
    def dynamic_batch(self) -> bool:
        """True when the model accepts any batch size in one invoke."""
        return self.input.shape[0] == -1

    def _invoke(self, inputs: np.ndarray) -> np.ndarray:
        if len(inputs) != self._batch:
            self._interpreter.resize_tensor_input(self.input.index, inputs.shape)
            self._interpreter.allocate_tensors()
            self._batch = len(inputs)
        self._interpreter.set_tensor(self.input.index, inputs)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self.output.index)

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for uint8 model pixels (N, H, W, C) from `to_model_pixels`.

        Raises:
            FerEdgeError: pixels of another shape or type (floats are not pixels: normalization is the model's).
        """
        pixels = self.metadata.preprocessing.check_batch(pixels)
        if pixels.dtype != np.uint8:
            raise FerEdgeError(f"expected uint8 model pixels (see to_model_pixels), got {pixels.dtype}")
        if len(pixels) == 0:
            return np.zeros((0, len(self.metadata.labels)), np.float32)
        inputs = self._input_of_pixel.take(pixels)
        step = MAX_BATCH if self.dynamic_batch else 1
        raw = np.concatenate([self._invoke(inputs[i:i + step]) for i in range(0, len(inputs), step)])
        return dequantize(raw, self.output) if self.output.quantized else raw.astype(np.float32)
