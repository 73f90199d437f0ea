"""The one crop geometry: square with margin, border padding, resize."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.crops import CropGeometry, crop_face, square_region
from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox


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
