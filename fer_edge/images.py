"""Images: decode any supported image file to an RGB uint8 array, and walk ImageFolder trees."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.errors import DatasetError, ImageDecodeError
from fer_edge.image_header import image_format, image_size, jpeg_scan_start

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
MAX_PIXELS = 40_000_000
"""Images that would decode to more pixels are refused before decoding (40 MP: 120 MB as RGB)."""
REDUCE_ABOVE_PIXELS = 12_000_000
"""JPEGs declaring more pixels are decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling), to at most this
many pixels when 1/8 allows: a face crop needs far less, and memory stays bounded by the decoded size."""
_REDUCED_FLAGS = {2: "IMREAD_REDUCED_COLOR_2", 4: "IMREAD_REDUCED_COLOR_4", 8: "IMREAD_REDUCED_COLOR_8"}


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the install
        from fer_edge.errors import MissingDependencyError

        raise MissingDependencyError("opencv-python-headless", "device") from exc
    return cv2


def _check_not_truncated(data: bytes, source: str) -> None:
    """libjpeg only warns on a truncated JPEG and returns grey rows; refuse it instead.

    Data after the end-of-image marker (some cameras and editors append it) is fine.
    """
    if not data.startswith(_JPEG_START):
        return
    start = jpeg_scan_start(data)
    if start is None or _JPEG_END not in data[start:]:
        raise ImageDecodeError(f"{source}: truncated JPEG (no end-of-image marker)")


def _reduction(data: bytes, source: str, max_pixels: int) -> int:
    """1, or the 2, 4 or 8 a large JPEG is decoded reduced by; refuse what would still decode over `max_pixels`."""
    size = image_size(data)
    if size is None:
        return 1
    pixels, factor = size[0] * size[1], 1
    if data.startswith(_JPEG_START) and pixels > REDUCE_ABOVE_PIXELS:
        factor = next((f for f in (2, 4) if pixels / (f * f) <= REDUCE_ABOVE_PIXELS), 8)
    if pixels / (factor * factor) > max_pixels:
        raise ImageDecodeError(f"{source}: {size[0]}x{size[1]} pixels is over the limit of "
                               f"{max_pixels / 1e6:g} megapixels; scale it down first")
    return factor


def decode_image_scaled(data: bytes, source: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, int]:
    """`decode_image`, and the factor (1, 2, 4 or 8) the image was reduced by: a pixel here is that many there."""
    if not data:
        raise ImageDecodeError(f"{source}: empty file (0 bytes)")
    if image_format(data) is None:  # OpenCV would decode TIFF, PPM, HDR...: not what fer-edge reads or bounds
        raise ImageDecodeError(f"{source}: not a JPEG, PNG, BMP or WebP image")
    _check_not_truncated(data, source)
    factor = _reduction(data, source, max_pixels)
    cv2 = _cv2()
    flags = getattr(cv2, _REDUCED_FLAGS[factor]) if factor > 1 else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise ImageDecodeError(f"{source}: cannot decode ({str(exc).strip().splitlines()[-1]})") from exc
    if image is None or image.size == 0:
        raise ImageDecodeError(f"{source}: not a readable JPEG/PNG/BMP/WebP image")
    return _to_rgb_uint8(image, cv2), factor


def decode_image(data: bytes, source: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes to an RGB uint8 array of shape (H, W, 3).

    Grayscale, RGB, RGBA and 16-bit images are accepted; the format is found from
    the content, not the file name. A JPEG over `REDUCE_ABOVE_PIXELS` is decoded reduced
    (see `decode_image_scaled` for the factor, to map coordinates back).

    Args:
        data: the encoded file content (JPEG, PNG, BMP or WebP).
        source: a name for error messages.
        max_pixels: refuse images that would decode to more pixels than this, checked from the
            header before decoding.

    Raises:
        ImageDecodeError: the bytes are empty, truncated, too large, damaged or not JPEG, PNG, BMP or WebP.
    """
    return decode_image_scaled(data, source, max_pixels)[0]


def _to_rgb_uint8(image: np.ndarray, cv2) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3). See `decode_image`.

    Only regular files are read: a FIFO, device or folder is refused without blocking.

    Raises:
        ImageDecodeError: the file is missing, not a regular file, unreadable, too large or not an image.
    """
    return read_image_scaled(path, max_pixels)[0]


def read_image_scaled(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, int]:
    """`read_image`, and the factor a large JPEG was reduced by (see `decode_image_scaled`)."""
    if not isinstance(path, (str, os.PathLike)):
        hint = "; decode bytes with fer_edge.images.decode_image" if isinstance(path, (bytes, bytearray)) else ""
        raise ImageDecodeError(f"expected an image file's path, got {type(path).__name__}{hint}")
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ImageDecodeError(f"{path}: not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        reason = f"a broken link to {os.readlink(path)}" if _is_broken_link(path) else exc.strerror
        raise ImageDecodeError(f"{path}: cannot read file ({reason})") from exc
    return decode_image_scaled(data, str(path), max_pixels)


@dataclass(frozen=True)
class ImageFolder:
    """The files of an ImageFolder tree `root/<class>/*`, labels from folder names.

    Attributes:
        root: the folder that holds one sub-folder per class.
        classes: class names, sorted.
        files: (path, class index) pairs, sorted by class then path.
    """

    root: Path
    classes: tuple[str, ...]
    files: tuple[tuple[Path, int], ...]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _visible_files(folder: Path) -> list[Path]:
    """Every visible regular file below `folder` (hidden files and folders skipped), sorted.

    A broken link is listed too, so that the reader reports it rather than it vanishing unnoticed.
    """
    return sorted(p for p in folder.rglob("*")
                  if (p.is_file() or _is_broken_link(p))
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _is_broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def expand_image_paths(paths: list[str | Path]) -> list[Path]:
    """Image arguments as files: a file stays as it is, a folder becomes every visible file below it.

    As with ImageFolder trees, the decoder and not the suffix decides later which files are images;
    a folder with no visible file stays as it is, for the reader to report like any unreadable input.
    """
    expanded: list[Path] = []
    for path in map(Path, paths):
        expanded.extend((_visible_files(path) or [path]) if path.is_dir() else [path])
    return expanded


def require_dataset_folder(root: str | Path) -> Path:
    """`root` as a Path when it is a folder.

    Raises:
        DatasetError: `root` is missing or not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    return root


def scan_image_folder(root: str | Path) -> ImageFolder:
    """List the candidate image files of `root/<class>/*` without decoding them.

    Every visible regular file is a candidate (files in hidden folders such as `.ipynb_checkpoints`
    are not): the decoder, not the suffix, decides whether it is an image (a WebP named .jpg is still read).

    Raises:
        DatasetError: `root` is missing or holds no class folders.
    """
    root = require_dataset_folder(root)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    if not class_dirs:
        raise DatasetError(f"{root} has no class folders; expected {root}/<class>/<image files>")
    files = []
    for index, class_dir in enumerate(class_dirs):
        files.extend((path, index) for path in _visible_files(class_dir))
    return ImageFolder(root, tuple(p.name for p in class_dirs), tuple(files))
