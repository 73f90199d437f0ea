"""The one crop geometry: square with margin, border padding, resize."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.crops import CropGeometry, crop_face, crop_model_pixels, square_region
from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox
from fer_edge.preprocess import Preprocessing, to_model_pixels


def gradient_image(height=100, width=120) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs * 2, ys * 2, np.full_like(xs, 50)], axis=-1).astype(np.uint8)


def test_square_region_golden_values():
    assert square_region(FaceBox(10, 20, 40, 60), framing=0.0) == (0, 20, 60)
    assert square_region(FaceBox(10, 20, 40, 60), framing=0.5) == (-15, 5, 90)


def test_crop_inside_the_image_is_the_exact_region():
    image = gradient_image()
    crop = crop_face(image, FaceBox(30, 20, 40, 40), size=40, framing=0.0)
    np.testing.assert_array_equal(crop, image[20:60, 30:70])


def test_crop_is_resized_and_square():
    crop = crop_face(gradient_image(), FaceBox(30, 20, 40, 30), size=(64, 64))
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8


def test_crop_at_the_border_repeats_edge_pixels():
    image = gradient_image()
    crop = crop_face(image, FaceBox(-10, -10, 30, 30), size=30, framing=0.0)
    np.testing.assert_array_equal(crop[:10, :10], np.broadcast_to(image[0, 0], (10, 10, 3)))
    np.testing.assert_array_equal(crop[10:, 10:], image[0:20, 0:20])


@pytest.mark.parametrize("box", [FaceBox(0, 0, 0, 10), FaceBox(500, 500, 10, 10), FaceBox(-50, -50, 20, 20),
                                 FaceBox(-50, 10, 20, 20), FaceBox(10, -50, 20, 20)])
def test_degenerate_or_outside_boxes(box):
    with pytest.raises(FerEdgeError, match="positive size|lies outside the 120x100 image"):
        crop_face(gradient_image(), box, 32)


def test_a_crop_framed_off_the_image_names_the_box_and_the_square():
    """A huge box overlaps the image, but its framing (moved down by shift_y of its side) does not."""
    with pytest.raises(FerEdgeError, match=r"the crop framed around face box \[0, 0, 1000, 1000\] "
                                           r"\(1000 px square at 0,200\) lies outside the 120x100 image"):
        crop_face(gradient_image(), FaceBox(0, 0, 1000, 1000), 32, CropGeometry(scale=1.0, shift_y=0.2))


def test_negative_margin():
    with pytest.raises(FerEdgeError, match="margin"):
        square_region(FaceBox(0, 0, 10, 10), framing=-0.1)


def test_geometry_scale_and_shift_golden_values():
    box = FaceBox(10, 20, 40, 60)  # centre (30, 50), longer side 60
    assert square_region(box, CropGeometry(1.0, 0.0)) == square_region(box, framing=0.0) == (0, 20, 60)
    assert square_region(box, CropGeometry(1.5, 0.0)) == (-15, 5, 90)
    assert square_region(box, CropGeometry(1.0, 0.1)) == (0, 26, 60)     # down by 6 px
    assert square_region(box, CropGeometry(0.8, -0.125)) == (6, 20, 48)  # up by 6 px
    assert CropGeometry.from_margin(0.2) == CropGeometry(1.2, 0.0)


def test_geometry_round_trips_and_rejects_bad_values():
    geometry = CropGeometry(1.05, 0.04)
    assert CropGeometry.from_dict(geometry.to_dict()) == geometry
    for scale, shift in ((0.1, 0.0), (5.0, 0.0), (float("nan"), 0.0), (1.0, 0.7), (1.0, float("inf"))):
        with pytest.raises(FerEdgeError, match="crop"):
            CropGeometry(scale, shift)


def test_shifted_crop_takes_the_pixels_below():
    image = np.zeros((100, 100, 3), np.uint8)
    image[60:] = 200
    centred = crop_face(image, FaceBox(30, 30, 40, 40), size=40, framing=CropGeometry(1.0, 0.0))
    lower = crop_face(image, FaceBox(30, 30, 40, 40), size=40, framing=CropGeometry(1.0, 0.25))
    assert (centred[:, :, 0] == 200).mean() == pytest.approx(0.25, abs=0.03)
    assert (lower[:, :, 0] == 200).mean() == pytest.approx(0.5, abs=0.03)


def test_non_finite_boxes_are_errors_and_detectors_drop_them():
    from fer_edge.faces import DetectorOptions, filter_faces

    for box in (FaceBox(float("inf"), 0, 10, 10), FaceBox(0, 0, float("nan"), 10)):
        with pytest.raises(FerEdgeError, match="finite"):
            square_region(box, 0.2)
    good = FaceBox(0, 0, 40, 40, score=0.9)
    faces = [FaceBox(0, 0, float("inf"), 40, score=0.9), good, FaceBox(0, 0, 40, 40, score=float("nan"))]
    assert filter_faces(faces, DetectorOptions()) == [good]


def test_a_zero_output_size_is_a_clear_error():
    with pytest.raises(FerEdgeError, match="cannot be resized to 0x0"):
        crop_face(gradient_image(), FaceBox(10, 10, 20, 20), 0)


def noisy_face_frame(seed: int = 0) -> np.ndarray:
    """A 480x640 RGB frame of smooth gradients and noise: averaging it down rounds differently by path."""
    rng = np.random.default_rng(seed)
    return np.clip(gradient_image(480, 640).astype(int) + rng.integers(-40, 41, (480, 640, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("box", [FaceBox(100, 80, 300, 330), FaceBox(500, 380, 200, 150), FaceBox(10, 10, 40, 40)])
def test_model_pixels_of_a_grey_model_match_the_rgb_crop_within_one_level(box):
    frame, prep = noisy_face_frame(), Preprocessing((48, 48), "grayscale")
    geometry = CropGeometry(0.978, -0.003)
    pixels = crop_model_pixels(frame, box, prep, geometry)
    two_steps = to_model_pixels(crop_face(frame, box, 48, geometry), prep)
    assert pixels.shape == (48, 48, 1) and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - two_steps).max() <= 1  # rounding apart: grey first, then averaged down


def test_model_pixels_are_the_full_size_crop_through_the_one_preprocessing():
    frame, prep = noisy_face_frame(2), Preprocessing((48, 48), "grayscale")
    box, geometry = FaceBox(100, 80, 300, 330), CropGeometry(0.978, -0.003)
    side = square_region(box, geometry)[2]
    full_size = crop_face(frame, box, side, geometry)  # the framed region itself, not resized
    np.testing.assert_array_equal(crop_model_pixels(frame, box, prep, geometry), to_model_pixels(full_size, prep))


def test_model_pixels_of_a_colour_model_are_the_rgb_crop():
    frame, prep = noisy_face_frame(1), Preprocessing((64, 64), "rgb")
    box = FaceBox(100, 80, 300, 330)
    np.testing.assert_array_equal(crop_model_pixels(frame, box, prep, 0.2), crop_face(frame, box, 64, 0.2))


@pytest.mark.parametrize("image", [np.zeros((50, 50), np.uint8), np.zeros((50, 50, 3), np.float32),
                                   np.zeros((50, 50, 4), np.uint8), [[1, 2, 3]]])
def test_crops_take_rgb_uint8_frames_only(image):
    with pytest.raises(FerEdgeError, match=r"faces are cropped from an RGB uint8 image \(H, W, 3\)"):
        crop_model_pixels(image, FaceBox(5, 5, 20, 20), Preprocessing((48, 48), "grayscale"))
    with pytest.raises(FerEdgeError, match="faces are cropped from an RGB uint8 image"):
        crop_face(image, FaceBox(5, 5, 20, 20), 48)
