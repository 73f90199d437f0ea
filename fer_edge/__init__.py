"""fer-edge: facial expression recognition for Raspberry Pi kiosks (TensorFlow-free runtime)."""

from fer_edge.errors import FerEdgeError

__version__ = "0.1.0"

__all__ = ["FerEdgeError", "__version__"]
