"""Fixtures for the pytest-benchmark suites: shipped models and real-face frames."""

from __future__ import annotations

import pytest

from fer_edge.bench import default_frames
from fer_edge.bench_suite import shipped_models


@pytest.fixture(scope="session")
def frames():
    """640x480 frames with one real face each."""
    return [frame.image for frame in default_frames(count=8)]


@pytest.fixture(scope="session")
def models():
    """{precision: shipped .tflite path} and the shipped float Keras model."""
    tflite, keras = shipped_models()
    if not tflite:
        pytest.skip("no shipped model in fer_edge/models")
    return {path.stem.split("_")[-1]: path for path in tflite}, keras
