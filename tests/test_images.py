"""Decoding every supported kind of image to RGB uint8, and refusing broken files."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import write_broken_files
from fer_edge.errors import DatasetError, ImageDecodeError
from fer_edge.images import decode_image, expand_image_paths, read_image, require_dataset_folder, scan_image_folder

RGB = np.zeros((4, 6, 3), np.uint8)
RGB[..., 0] = 200  # red channel
RGB[..., 1] = 50


def encode(image: np.ndarray, suffix: str) -> bytes:
    ok, data = cv2.imencode(suffix, image)
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".webp"])
def test_lossless_formats_decode_to_rgb(suffix):
    bgr = cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else []
    ok, data = cv2.imencode(suffix, bgr, params)
    decoded = decode_image(data.tobytes())
    assert decoded.dtype == np.uint8 and decoded.shape == (4, 6, 3)
    np.testing.assert_array_equal(decoded, RGB)


def test_jpeg_decodes_close_to_source():
    image = np.full((16, 16, 3), (30, 120, 220), np.uint8)
    decoded = decode_image(encode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), ".jpg"))
    assert np.abs(decoded.astype(int) - image).max() <= 3


def test_grayscale_becomes_three_equal_channels():
    gray = np.arange(24, dtype=np.uint8).reshape(4, 6)
    decoded = decode_image(encode(gray, ".png"))
    assert decoded.shape == (4, 6, 3)
    for channel in range(3):
        np.testing.assert_array_equal(decoded[..., channel], gray)


def test_rgba_drops_alpha():
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 180, 7  # red, nearly transparent
    decoded = decode_image(encode(bgra, ".png"))
    assert decoded.shape == (4, 4, 3)
    assert decoded[0, 0].tolist() == [180, 0, 0]


def test_16_bit_scales_to_8_bit():
    image16 = np.full((4, 4), 65535, np.uint16)
    image16[0, 0] = 256 * 100
    decoded = decode_image(encode(image16, ".png"))
    assert decoded.dtype == np.uint8
    assert decoded[0, 0, 0] == 100 and decoded[1, 1, 0] == 255


def test_format_comes_from_content_not_name(tmp_path):
    path = tmp_path / "really_webp.jpg"
    path.write_bytes(encode(cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR), ".webp"))
    assert read_image(path).shape == (4, 6, 3)


@pytest.mark.parametrize("kind", ["empty", "truncated_jpeg", "truncated_png", "text", "html_as_jpg"])
def test_broken_files_raise_a_clear_error(tmp_path, kind):
    path = write_broken_files(tmp_path)[kind]
    with pytest.raises(ImageDecodeError, match=str(path.name)):
        read_image(path)


def test_missing_file_is_an_image_error(tmp_path):
    with pytest.raises(ImageDecodeError, match="cannot read file"):
        read_image(tmp_path / "nope.png")


def test_scan_lists_classes_sorted_and_skips_hidden(tmp_path):
    for name in ("zeta", "alpha"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.png").write_bytes(b"x")
    (tmp_path / "alpha" / ".DS_Store").write_bytes(b"x")
    (tmp_path / "alpha" / ".ipynb_checkpoints").mkdir()  # a hidden folder inside a class: none of its files
    (tmp_path / "alpha" / ".ipynb_checkpoints" / "a-checkpoint.png").write_bytes(b"x")
    (tmp_path / ".cache").mkdir()
    folder = scan_image_folder(tmp_path)
    assert folder.classes == ("alpha", "zeta")
    assert [(p.name, c) for p, c in folder.files] == [("a.png", 0), ("a.png", 1)]


def test_broken_links_are_listed_for_the_reader_to_report(tmp_path):
    """A link whose target was moved away is an unreadable image, not a file that silently is not there."""
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy" / "a.png").write_bytes(b"x")
    (tmp_path / "happy" / "moved.png").symlink_to(tmp_path / "gone.png")
    (tmp_path / "happy" / ".hidden.png").symlink_to(tmp_path / "gone.png")
    assert [p.name for p, _ in scan_image_folder(tmp_path).files] == ["a.png", "moved.png"]
    assert [p.name for p in expand_image_paths([tmp_path / "happy"])] == ["a.png", "moved.png"]
    with pytest.raises(ImageDecodeError, match=r"moved.png: cannot read file \(a broken link to .*gone.png\)"):
        read_image(tmp_path / "happy" / "moved.png")


def test_scan_errors_name_the_folder(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_image_folder(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no class folders"):
        scan_image_folder(tmp_path)


def test_a_dataset_folder_must_be_a_folder(tmp_path):
    assert require_dataset_folder(str(tmp_path)) == tmp_path
    (tmp_path / "faces.zip").write_bytes(b"PK")
    for path in (tmp_path / "missing", tmp_path / "faces.zip"):
        with pytest.raises(DatasetError, match=f"dataset folder not found: {path}$"):
            require_dataset_folder(path)


def _png_declaring(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR is rewritten to declare `width` x `height` (CRC left stale)."""
    import struct

    import cv2

    data = bytearray(cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    return bytes(data)


def test_oversized_images_are_refused_from_the_header(tmp_path):
    from fer_edge.errors import ImageDecodeError
    from fer_edge.images import decode_image, read_image

    path = tmp_path / "huge.png"
    path.write_bytes(_png_declaring(40000, 40000))
    with pytest.raises(ImageDecodeError, match="40000x40000 pixels is over the limit of 40 megapixels"):
        read_image(path)
    with pytest.raises(ImageDecodeError, match="over the limit of 1e-06"):
        decode_image(_png_declaring(2, 2), "x.png", max_pixels=1)


def test_header_sizes_of_every_format():
    import cv2

    from fer_edge.image_header import image_size

    image = np.random.default_rng(0).integers(0, 255, (37, 53, 3), np.uint8)
    for ext, params in ((".jpg", []), (".png", []), (".bmp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
                        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101])):
        assert image_size(cv2.imencode(ext, image, params)[1].tobytes()) == (53, 37), ext
    assert image_size(b"GIF89a....") is None and image_size(b"\xff\xd8\xff") is None


@pytest.mark.parametrize("path, message", [(b"photo.jpg", "got bytes; decode bytes with fer_edge.images.decode_image"),
                                           (None, "got NoneType$"), (3, "got int$")])
def test_a_path_that_is_not_a_path_is_refused(path, message):
    with pytest.raises(ImageDecodeError, match=f"expected an image file's path, {message}"):
        read_image(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    from fer_edge.errors import ImageDecodeError
    from fer_edge.images import read_image

    fifo = tmp_path / "camera.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageDecodeError, match="not a regular file"):
        read_image(fifo)
    with pytest.raises(ImageDecodeError, match="not a regular file"):
        read_image(tmp_path)


def big_jpeg(width: int, height: int) -> tuple[bytes, np.ndarray]:
    """A smooth gradient image (small as a JPEG) and its pixels."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    image = np.stack(np.broadcast_arrays(x + 0 * y, 0 * x + y, (x + y) / 2), axis=-1).astype(np.uint8)
    return encode(image, ".jpg"), image


def test_large_jpegs_decode_reduced_and_say_by_how_much():
    from fer_edge.images import REDUCE_ABOVE_PIXELS, decode_image_scaled

    data, image = big_jpeg(8000, 6000)  # 48 MP: over the 40 MP limit at full size, 12 MP at 1/2
    decoded, factor = decode_image_scaled(data, "big.jpg")
    assert factor == 2 and decoded.shape == (3000, 4000, 3)
    expected = cv2.resize(image, (4000, 3000), interpolation=cv2.INTER_AREA)[..., ::-1]  # encoded as BGR
    assert np.abs(decoded.astype(int) - expected).mean() < 3
    assert decoded.shape[0] * decoded.shape[1] <= REDUCE_ABOVE_PIXELS
    assert decode_image_scaled(big_jpeg(3000, 2000)[0], "small.jpg")[1] == 1  # 6 MP: full size



def jpeg_declaring(width: int, height: int) -> bytes:
    jpeg = bytearray(big_jpeg(64, 48)[0])
    at = jpeg.index(b"\xff\xc0") + 5
    jpeg[at:at + 4] = struct.pack(">HH", height, width)
    return bytes(jpeg)


@pytest.mark.parametrize("width, height, factor", [(4000, 3000, 1), (4001, 3000, 2), (8000, 6000, 2),
                                                   (12000, 12000, 4), (16000, 12000, 4), (16001, 12000, 8), (40000, 20000, 8)])
def test_reduction_factor_golden_table(width, height, factor):
    from fer_edge.images import _reduction

    assert _reduction(jpeg_declaring(width, height), "x.jpg", 40_000_000) == factor



def test_reduction_only_for_jpeg_and_the_limit_counts_decoded_pixels(tmp_path):
    from fer_edge.images import decode_image_scaled

    with pytest.raises(ImageDecodeError, match="over the limit"):
        decode_image_scaled(_png_declaring(8000, 6000), "x.png")  # PNG decodes at full size only
    with pytest.raises(ImageDecodeError, match="60000x60000 pixels is over the limit"):
        decode_image_scaled(jpeg_declaring(60000, 60000), "x.jpg")  # 3.6 GP: 56 MP even at 1/8


def test_folders_expand_to_every_visible_file_below_them(tmp_path):
    for name in ("b.jpg", "a/c.png", "a/notes.txt", ".hidden.jpg", ".cache/d.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    single = tmp_path / "b.jpg"
    assert expand_image_paths([single, tmp_path]) == [single, tmp_path / "a/c.png", tmp_path / "a/notes.txt", single]
    assert expand_image_paths(["missing.jpg"]) == [Path("missing.jpg")]  # reported later, per file
    (tmp_path / "empty" / ".cache").mkdir(parents=True)
    assert expand_image_paths([tmp_path / "empty", single]) == [tmp_path / "empty", single]  # reported by the reader


@pytest.mark.parametrize("suffix", [".tiff", ".ppm"])
def test_formats_opencv_reads_but_fer_edge_does_not_are_refused_before_decoding(suffix):
    data = encode(cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR), suffix)
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2] == (4, 6)  # OpenCV would
    with pytest.raises(ImageDecodeError, match="x.ppm: not a JPEG, PNG, BMP or WebP image"):
        decode_image(data, "x.ppm")
    with pytest.raises(ImageDecodeError, match="over-limit.ppm: not a JPEG"):  # not OpenCV's pixel-limit assertion
        decode_image(b"P6\n99999 99999\n255\n", "over-limit.ppm")
