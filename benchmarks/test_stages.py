"""pytest-benchmark suites per stage: detect, preprocess, classify, end to end.

Run: .venv/bin/python -m pytest benchmarks/ --benchmark-json=benchmarks/results.json
(not part of `make test`; timings are reported, never asserted).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fer_edge.crops import crop_face
from fer_edge.faces import DetectorOptions, create_detector
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.preprocess import to_model_pixels
from fer_edge.recognizer import Recognizer

PRECISIONS = ("fp32", "fp16", "dynamic", "int8")
THREADS = (1, 2)


def cycle(frames):
    frames = itertools.cycle(frames)
    return lambda: next(frames)


@pytest.mark.parametrize("detect_width", [0, 320, 256])
def test_detect_yunet(benchmark, frames, detect_width):
    detector = create_detector("yunet", DetectorOptions(detect_width=detect_width))
    next_frame = cycle(frames)
    faces = benchmark(lambda: detector.detect(next_frame()))
    assert faces


def test_detect_mtcnn(benchmark, frames):
    detector = create_detector("mtcnn")
    next_frame = cycle(frames)
    benchmark.pedantic(lambda: detector.detect(next_frame()), rounds=20, warmup_rounds=2)


def test_preprocess(benchmark, frames, models):
    classifier = TFLiteClassifier(models[0]["int8"])
    detector = create_detector("yunet")
    face, prep = detector.detect(frames[0])[0], classifier.metadata.preprocessing
    benchmark(lambda: to_model_pixels(crop_face(frames[0], face, prep.input_size, detector.crop_margin), prep))


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_classify(benchmark, models, precision, threads):
    classifier = TFLiteClassifier(models[0][precision], threads=threads)
    pixels = np.random.default_rng(0).integers(0, 256, (1, *classifier.metadata.preprocessing.input_shape),
                                               dtype=np.uint8)
    benchmark(lambda: classifier.predict_pixels(pixels))


def test_classify_keras(benchmark, models):
    from fer_edge.train.keras_io import KerasClassifier

    classifier = KerasClassifier(models[1])
    pixels = np.zeros((1, *classifier.metadata.preprocessing.input_shape), np.uint8)
    benchmark(lambda: classifier.predict_pixels(pixels))


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_end_to_end_edge(benchmark, frames, models, precision, threads):
    recognizer = Recognizer(TFLiteClassifier(models[0][precision], threads=threads),
                            create_detector("yunet", DetectorOptions(detect_width=256)))
    next_frame = cycle(frames)
    benchmark(lambda: recognizer.recognize_rgb(next_frame()))
