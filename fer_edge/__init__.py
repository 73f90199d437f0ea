"""fer-edge: facial expression recognition for Raspberry Pi kiosks (TensorFlow-free runtime).

    import fer_edge
    recognizer = fer_edge.Recognizer.load("default")
    for face in recognizer.recognize("photo.jpg"):
        print(face.label, face.confidence, face.box)
"""

from fer_edge.crops import CropGeometry, crop_face, crop_model_pixels
from fer_edge.errors import DatasetError, FerEdgeError, ImageDecodeError, MissingDependencyError, ModelError
from fer_edge.faces import DetectorOptions, FaceBox, create_detector
from fer_edge.follow import FollowingDetector
from fer_edge.images import read_image
from fer_edge.labels import canonical_label
from fer_edge.metadata import ModelMetadata
from fer_edge.model_files import load_classifier
from fer_edge.preprocess import Preprocessing, to_model_pixels
from fer_edge.recognizer import FaceResult, Recognizer
from fer_edge.results import ClassProbabilities
from fer_edge.sessions import SessionOptions, SessionTracker
from fer_edge.tracking import SmoothingTracker

__version__ = "0.4.0"

__all__ = [
    "ClassProbabilities",
    "CropGeometry",
    "DatasetError",
    "DetectorOptions",
    "FaceBox",
    "FaceResult",
    "FerEdgeError",
    "FollowingDetector",
    "ImageDecodeError",
    "MissingDependencyError",
    "ModelError",
    "ModelMetadata",
    "Preprocessing",
    "Recognizer",
    "SessionOptions",
    "SessionTracker",
    "SmoothingTracker",
    "__version__",
    "canonical_label",
    "create_detector",
    "crop_face",
    "crop_model_pixels",
    "load_classifier",
    "read_image",
    "to_model_pixels",
]
