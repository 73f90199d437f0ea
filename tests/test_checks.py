"""Number checks: options given from Python with the wrong type are refused by name, NumPy numbers pass."""

from __future__ import annotations

import numpy as np
import pytest

import fer_edge
from fer_edge.checks import require_numbers, require_whole_numbers
from fer_edge.errors import FerEdgeError
from fer_edge.kiosk import KioskOptions
from fer_edge.sources import SourceOptions


def test_require_numbers_and_whole_numbers():
    require_numbers("x", a=1, b=2.5, c=np.float32(0.5), d=np.int64(3))
    require_whole_numbers("x", a=1, b=np.int16(2))
    for value in ("1", None, True, np.bool_(True), [1], 1j):
        with pytest.raises(FerEdgeError, match=r"^x: a must be a number, got .+ \(\w+\)$"):
            require_numbers("x", a=value)
    for value in ("1", 1.0, np.float64(2.0), True, None):
        with pytest.raises(FerEdgeError, match=r"^x: a must be a whole number, got .+ \(\w+\)$"):
            require_whole_numbers("x", a=value)


@pytest.mark.parametrize("make, message", [
    (lambda: fer_edge.DetectorOptions(detect_width="256"),
     "detector options: detect_width must be a whole number, got '256' (str)"),
    (lambda: fer_edge.DetectorOptions(score_threshold="0.7"),
     "detector options: score_threshold must be a number, got '0.7' (str)"),
    (lambda: fer_edge.DetectorOptions(max_faces=2.5),
     "detector options: max_faces must be a whole number, got 2.5 (float)"),
    (lambda: fer_edge.SessionOptions(timeout_s="2"), "session options: timeout_s must be a number, got '2' (str)"),
    (lambda: fer_edge.SessionOptions(kiosk_id=7), "kiosk id 7: use a non-empty name"),
    (lambda: fer_edge.SmoothingTracker(window="5"), "smoothing: window must be a whole number, got '5' (str)"),
    (lambda: fer_edge.SmoothingTracker(max_missed_s=None),
     "smoothing: max_missed_s must be a number, got None (NoneType)"),
    (lambda: fer_edge.FollowingDetector(fer_edge.create_detector("none"), every="3"),
     "following detector: every must be a whole number, got '3' (str)"),
    (lambda: fer_edge.CropGeometry(scale="1.2"), "crop geometry: scale must be a number, got '1.2' (str)"),
    (lambda: SourceOptions(width=640.0), "source options: width must be a whole number, got 640.0 (float)"),
    (lambda: KioskOptions(max_fps="15"), "kiosk options: max_fps must be a number, got '15' (str)"),
    (lambda: KioskOptions(detect_every=None),
     "kiosk options: detect_every must be a whole number, got None (NoneType)"),
])
def test_public_options_name_a_wrongly_typed_number(make, message):
    with pytest.raises(FerEdgeError) as caught:
        make()
    assert str(caught.value).startswith(message)


def test_numpy_numbers_are_numbers():
    assert fer_edge.DetectorOptions(detect_width=np.int64(320), score_threshold=np.float32(0.5)).detect_width == 320
    assert fer_edge.CropGeometry(np.float64(1.1), np.float32(0.0)).scale == pytest.approx(1.1)
    assert fer_edge.SmoothingTracker(window=np.int32(3)).window == 3
