"""The single preprocessing definition: golden values, colour modes and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.preprocess import Preprocessing, normalize, preprocess, to_model_pixels


def test_defaults_are_the_papers_input():
    prep = Preprocessing()
    assert prep.input_shape == (64, 64, 3)
    assert prep.channels == 3


def test_uniform_image_golden_values():
    face = np.full((100, 80, 3), (255, 0, 51), np.uint8)
    out = preprocess(face, Preprocessing())
    assert out.shape == (64, 64, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[10, 10], [1.0, 0.0, 0.2], atol=1e-6)


def test_grayscale_uses_luma_weights():
    face = np.full((48, 48, 3), (255, 0, 0), np.uint8)  # pure red
    prep = Preprocessing((32, 32), "grayscale", scale=2 / 255, offset=-1.0)
    pixels = to_model_pixels(face, prep)
    assert pixels.shape == (32, 32, 1)
    assert pixels[0, 0, 0] == 76  # round(0.299 * 255)
    np.testing.assert_allclose(normalize(pixels, prep)[0, 0, 0], 76 * 2 / 255 - 1, atol=1e-6)


@pytest.mark.parametrize("shape", [(97, 83, 3), (30, 36, 3)])
def test_a_grayscale_models_face_is_made_grey_before_it_is_resized(shape):
    import cv2

    face = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    shrinking = shape[0] > 48
    expected = cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    pixels = to_model_pixels(face, Preprocessing((48, 48), "grayscale"))
    assert pixels.shape == (48, 48, 1) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels[..., 0], expected)


def test_enlarging_and_shrinking_keep_a_gradient_monotonic():
    ramp = np.repeat(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], 48, axis=0)
    face = np.repeat(ramp, 3, axis=2)
    for size in (24, 96):
        row = to_model_pixels(face, Preprocessing((size, size)))[size // 2, :, 0].astype(int)
        assert np.all(np.diff(row) >= 0)


@pytest.mark.parametrize(
    "bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.float32)]
)
def test_wrong_shapes_or_dtypes_are_rejected(bad):
    with pytest.raises(FerEdgeError, match="expected an RGB uint8 image"):
        preprocess(bad, Preprocessing())


@pytest.mark.parametrize("kwargs", [{"input_size": (4, 64)}, {"color_mode": "bgr"}])
def test_invalid_options_are_rejected(kwargs):
    with pytest.raises(FerEdgeError):
        Preprocessing(**kwargs)


def test_dict_round_trip_and_unknown_keys():
    prep = Preprocessing((48, 40), "grayscale", 0.5, -1.0)
    assert Preprocessing.from_dict(prep.to_dict()) == prep
    with pytest.raises(FerEdgeError, match="invalid preprocessing"):
        Preprocessing.from_dict({**prep.to_dict(), "mean": 0.5})


def test_empty_faces_and_empty_sizes_are_clear_errors():
    prep = Preprocessing((48, 48), "grayscale")
    with pytest.raises(FerEdgeError, match=r"cannot resize an empty image \(shape \(0, 5, 3\)\)"):
        to_model_pixels(np.zeros((0, 5, 3), np.uint8), prep)
    from fer_edge.preprocess import resize_rgb

    with pytest.raises(FerEdgeError, match="cannot be resized to 0x48"):
        resize_rgb(np.zeros((10, 10, 3), np.uint8), (48, 0))


def test_check_batch_accepts_its_input_shape_and_refuses_others():
    prep = Preprocessing((8, 8), "grayscale")
    batch = prep.check_batch([np.zeros((8, 8, 1), np.uint8)])
    assert isinstance(batch, np.ndarray) and batch.shape == (1, 8, 8, 1)
    for shape in [(8, 8, 1), (1, 8, 8, 3), (2, 4, 4, 1)]:
        with pytest.raises(FerEdgeError, match=rf"expected pixels \(N, \(8, 8, 1\)\), got \({shape[0]}"):
            prep.check_batch(np.zeros(shape, np.uint8))
