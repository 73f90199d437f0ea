"""Image headers: width and height of a JPEG, PNG, BMP or WebP file read without decoding it."""

from __future__ import annotations

import struct

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_segments(data: bytes):
    """(marker, position) of each JPEG header segment, up to and including the first start of scan."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        yield marker, position
        if marker == 0xDA:
            return
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            position += 2
            continue
        position += 2 + struct.unpack(">H", data[position + 2:position + 4])[0]


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    for marker, position in _jpeg_segments(data):
        if marker in _SOF_MARKERS and position + 9 <= len(data):
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return width, height
    return None


def jpeg_scan_start(data: bytes) -> int | None:
    """Where a JPEG's compressed image data begins (after its first start-of-scan header); None if it never does.

    Segments before it (EXIF thumbnails among them) are skipped by their lengths, so an end-of-image
    marker found after this position is the image's own.
    """
    for marker, position in _jpeg_segments(data):
        if marker == 0xDA and position + 4 <= len(data):
            return position + 2 + struct.unpack(">H", data[position + 2:position + 4])[0]
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def image_format(data: bytes) -> str | None:
    """"jpeg", "png", "bmp" or "webp" from the file's signature, or None for any other content."""
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"BM"):
        return "bmp"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) declared by the file's header, or None when the format or header is not recognised."""
    kind = image_format(data)
    if kind == "jpeg":
        return _jpeg_size(data)
    if kind == "png" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if kind == "bmp" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if kind == "webp":
        return _webp_size(data)
    return None
