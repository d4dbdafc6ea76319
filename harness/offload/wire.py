"""What travels between device and server: encoded images, multipart crop bundles, JSON.

Shared by the client and the server so both sides agree on the format. Nothing here unpickles or
evaluates: images are checked by their magic bytes and header size before they are decoded, and
everything else is JSON.
"""

from __future__ import annotations

import io
import secrets

import cv2
import numpy as np

from harness.errors import ArbenchError

__all__ = ["CONTENT_TYPES", "WireError", "decode_image", "encode_image", "image_kind", "image_size", "multipart"]

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_MAGIC = {"jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",)}


class WireError(ArbenchError, ValueError):
    """Input that does not follow the wire format; the message is the reason given back (HTTP 4xx)."""


def encode_image(image: np.ndarray, fmt: str, quality: int, max_side_px: int = 0) -> tuple[bytes, float]:
    """Encode a BGR image as JPEG, PNG or WebP; return the bytes and the scale applied (1.0: unchanged).

    ``max_side_px`` shrinks the image (INTER_AREA) so its longer side is at most that many pixels.
    """
    scale = 1.0
    height, width = image.shape[:2]
    if max_side_px and max(height, width) > max_side_px:
        scale = max_side_px / max(height, width)
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    params = {
        "jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality],
        "webp": [cv2.IMWRITE_WEBP_QUALITY, quality],
        "png": [cv2.IMWRITE_PNG_COMPRESSION, 3],
    }
    ok, buffer = cv2.imencode(f".{'jpg' if fmt == 'jpeg' else fmt}", image, params[fmt])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {width}x{height} image as {fmt}")
    return buffer.tobytes(), scale


def image_kind(data: bytes) -> str | None:
    """The format named by the data's magic bytes (jpeg, png, webp), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for kind, magics in _MAGIC.items() if data.startswith(magics)), None)


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG, PNG or WebP from its header alone (Pillow reads no pixel); WireError otherwise."""
    if not data:
        raise WireError("empty image")
    if image_kind(data) is None:
        raise WireError("not a JPEG, PNG or WebP image (magic bytes)")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as header:
            return header.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise WireError(f"unreadable image header: {exc}") from None


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode a JPEG, PNG or WebP into a BGR array, refusing anything else or anything over ``max_pixels``.

    The size is read from the header (Pillow, lazily) before any pixel is decoded, so a small file that
    claims a huge image costs nothing.
    """
    width, height = image_size(data)
    if width * height > max_pixels:
        raise WireError(f"image of {width}x{height} pixels exceeds the server's limit of {max_pixels} pixels")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise WireError("the image could not be decoded (truncated or corrupt)")
    return image


def multipart(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body from (name, content type, bytes) parts, and its Content-Type header."""
    boundary = secrets.token_hex(16)
    chunks = []
    for index, (name, content_type, data) in enumerate(parts):
        disposition = f'Content-Disposition: form-data; name="{name}"; filename="{name}{index}"'
        head = f"--{boundary}\r\n{disposition}\r\nContent-Type: {content_type}\r\n\r\n"
        chunks += [head.encode("ascii"), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
