"""Downloads: timeouts, a size cap, content-type and magic-byte checks, decode verification, hashing."""

from __future__ import annotations

import base64
import hashlib
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np

from fer_edge.errors import ImageDecodeError
from fer_edge.images import decode_image

MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"BM", "bmp"))


class Rejected(Exception):
    """A candidate image that is not kept; the message is the reason."""


@dataclass(frozen=True)
class FetchOptions:
    """Download limits.

    Attributes:
        timeout_s: connect and read timeout per request.
        max_bytes: larger responses are refused.
        user_agent: sent with every request.
    """

    timeout_s: float = 10.0
    max_bytes: int = 10 * 2**20
    user_agent: str = "fer-edge-scraper/0.1 (+dataset building for facial expression research)"


@dataclass(frozen=True)
class FetchedImage:
    """A verified image: its bytes, format and hashes."""

    data: bytes
    extension: str
    sha256: str
    average_hash: int


def image_extension(data: bytes) -> str:
    """jpg/png/bmp/webp from the first bytes; Rejected for anything else."""
    for magic, extension in MAGIC:
        if data.startswith(magic):
            return extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise Rejected("not an image (unknown file signature)")


def average_hash(image_rgb: np.ndarray) -> int:
    """64-bit perceptual hash: 8x8 grey thumbnail thresholded at its mean."""
    import cv2

    small = cv2.resize(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY), (8, 8), interpolation=cv2.INTER_AREA)
    bits = (small > small.mean()).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def _download(url: str, options: FetchOptions) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": options.user_agent})
    try:
        with urllib.request.urlopen(request, timeout=options.timeout_s) as response:
            kind = response.headers.get_content_type()
            if response.headers.get("Content-Type") and not kind.startswith("image/"):
                raise Rejected(f"not an image (content-type {kind})")
            data = response.read(options.max_bytes + 1)
    except urllib.error.HTTPError as exc:
        reason = "redirect loop" if 300 <= exc.code < 400 else f"http {exc.code}"
        raise Rejected(reason) from exc
    except (socket.timeout, TimeoutError) as exc:
        raise Rejected("timeout") from exc
    except urllib.error.URLError as exc:
        raise Rejected("timeout" if isinstance(exc.reason, (socket.timeout, TimeoutError)) else "unreachable") from exc
    if len(data) > options.max_bytes:
        raise Rejected("too large")
    return data


def _from_data_url(url: str, options: FetchOptions) -> bytes:
    header, _, payload = url.partition(",")
    if ";base64" not in header or not header[5:].startswith("image/"):
        raise Rejected("not an image (data URL)")
    data = base64.b64decode(payload, validate=False)
    if len(data) > options.max_bytes:
        raise Rejected("too large")
    return data


def fetch_image(url: str, options: FetchOptions = FetchOptions()) -> FetchedImage:
    """Download (or decode a data: URL), check and decode-verify one image.

    Raises:
        Rejected: with the reason (http 404, timeout, redirect loop, too large, not an image, corrupt image).
    """
    if url.startswith("data:"):
        data = _from_data_url(url, options)
    elif url.startswith(("http://", "https://")):
        data = _download(url, options)
    else:
        raise Rejected("unsupported URL scheme")
    extension = image_extension(data)
    try:
        image = decode_image(data, url[:80])
    except ImageDecodeError as exc:
        raise Rejected("corrupt image") from exc
    return FetchedImage(data, extension, hashlib.sha256(data).hexdigest(), average_hash(image))
