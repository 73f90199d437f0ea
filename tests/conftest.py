"""Shared fixtures: small generated datasets, broken files, and the optional ../shared data."""

from __future__ import annotations

import importlib.util
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from fer_edge.synthetic import write_synthetic_dataset

TESTS = Path(__file__).resolve().parent
SHARED_DATA = TESTS.parent.parent / "shared" / "data"
FER2013 = SHARED_DATA / "fer2013"
PHOTOS = SHARED_DATA / "photos"
FACE_PHOTO = TESTS / "data" / "astronaut.jpg"
"""One real face (public domain, see tests/data/README.md); no scikit-image needed."""

WORKSTATION = find_spec("tensorflow") is not None
"""False in the device test stage: a virtual environment with only fer-edge[device] and pytest."""
SKIP_ON_DEVICE = "needs the workstation extras (fer-edge[dev]); this is the device test stage"
# Test modules that import TensorFlow (or other workstation packages) at import time.
collect_ignore = [] if WORKSTATION else [
    "test_callbacks.py", "test_checkpoints.py", "test_cli.py", "test_convert.py",
    "test_distill.py", "test_ensemble.py", "test_fer2013.py", "test_fusion_gate.py", "test_fusion_holdout.py",
    "test_fusion_table.py", "test_mixed_weight_scales.py",
    "test_heads.py", "test_keras_io.py", "test_metrics.py", "test_models.py", "test_primary_head.py",
    "test_radam.py", "test_soup.py",
    "test_segment_latency.py", "test_train_fit.py", "test_training.py", "test_transplant.py",
]


def pytest_collection_modifyitems(config, items):
    """On a device install, skip the tests marked `workstation`, saying so (`trained` skips what builds on it)."""
    if WORKSTATION:
        return
    skip = pytest.mark.skip(reason=SKIP_ON_DEVICE)
    for item in items:
        if item.get_closest_marker("workstation"):
            item.add_marker(skip)


needs_fer2013 = pytest.mark.skipif(not FER2013.is_dir(), reason="../shared/data/fer2013 is absent")
needs_photos = pytest.mark.skipif(not PHOTOS.is_dir(), reason="../shared/data/photos is absent")


def load_benchmark(name: str, folder: str = "benchmarks"):
    """The module of FOLDER/NAME.py (scripts, not a package: benchmarks/, firmware_scripts/), for testing its
    functions.

    The script's folder goes on `sys.path`, as it is when a script runs, so a script can import its siblings.
    """
    folder = Path(__file__).resolve().parents[1] / folder
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    path = folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an imported module is: dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synthetic_faces(tmp_path_factory) -> Path:
    """A split ImageFolder of cartoon faces: train (30/class) and val (10/class), 48x48 PNG."""
    root = tmp_path_factory.mktemp("synthetic")
    classes = ("happy", "sad", "surprise")
    write_synthetic_dataset(root / "train", per_class=40, size=48, classes=classes, seed=0)
    write_synthetic_dataset(root / "val", per_class=10, size=48, classes=classes, seed=1)
    return root


def write_broken_files(folder: Path) -> dict[str, Path]:
    """Write one file of each kind of bad input into `folder`; return them by kind."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", np.full((32, 32, 3), 128, np.uint8))
    ok, png = cv2.imencode(".png", np.full((32, 32, 3), 128, np.uint8))
    files = {
        "empty": folder / "empty.jpg",
        "truncated_jpeg": folder / "truncated.jpg",
        "truncated_png": folder / "truncated.png",
        "text": folder / "notes.txt",
        "html_as_jpg": folder / "page.jpg",
    }
    files["empty"].write_bytes(b"")
    files["truncated_jpeg"].write_bytes(jpeg.tobytes()[: len(jpeg) // 2])
    files["truncated_png"].write_bytes(png.tobytes()[: len(png) // 2])
    files["text"].write_text("not an image\n")
    files["html_as_jpg"].write_text("<html><body>404</body></html>")
    return files


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, to prove a folder was not modified."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


CONVERT_CLASSES = ("happy", "sad", "surprise", "neutral")


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny Keras model trained well on cartoon faces (32x32), and the faces: (model path, data, folder).

    Skips on a device install, and with it every test and fixture that builds on it (`converted`, `recognizer`),
    whatever their names: a test module's own fixture of the same name is not caught.
    """
    if not WORKSTATION:
        pytest.skip(SKIP_ON_DEVICE)
    from helpers import TINY
    from fer_edge.train.training import TrainOptions, train

    root = tmp_path_factory.mktemp("trained")
    write_synthetic_dataset(root / "data" / "train", per_class=80, size=32, classes=CONVERT_CLASSES, seed=0)
    write_synthetic_dataset(root / "data" / "val", per_class=100, size=32, classes=CONVERT_CLASSES, seed=1)
    options = TrainOptions(arch=TINY, epochs=15, image_size=32, batch_size=16, augment=False, verbose=0,
                           learning_rate=0.01)
    result = train(root / "data", root / "run", options)
    assert result.best_val_accuracy > 0.7
    return result.model_path, root / "data", root


@pytest.fixture(scope="session")
def converted(trained):
    """The trained model in every precision: {quant: ConversionResult}."""
    from fer_edge.convert.tflite import convert_all

    model, data, root = trained
    return {r.quant: r for r in convert_all(model, root / "tflite", data, samples=120)}


def write_video(path, frames_bgr, fps=10):
    """Write BGR frames to an .mp4 with OpenCV; return the path."""
    import cv2

    height, width = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames_bgr:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def visitors_video(tmp_path_factory):
    """Three visitors (the astronaut photo) of 3 s each, 1 s apart, at 15 frames per second (180 frames)."""
    import cv2

    from fer_edge.images import read_image
    from fer_edge.synthetic import visitor_frames

    frames = [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
              for frame, _ in visitor_frames([read_image(FACE_PHOTO)] * 3, fps=15, visit_s=3, gap_s=1)]
    return write_video(tmp_path_factory.mktemp("visitors") / "visitors.mp4", frames, fps=15)


@pytest.fixture()
def red_video(tmp_path):
    """12 frames of pure red (BGR on disk), 64x48."""
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[..., 2] = 255
    return write_video(tmp_path / "red.mp4", [frame] * 12)


@pytest.fixture(scope="session")
def recognizer(converted):
    """The int8 test model behind the whole-image detector."""
    from fer_edge.faces import WholeImageDetector
    from fer_edge.interpreter import TFLiteClassifier
    from fer_edge.recognizer import Recognizer

    return Recognizer(TFLiteClassifier(converted["int8"].path), WholeImageDetector())
