"""Frames read from image files on disk: decoding is the measured capture."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from harness.errors import DataMissing
from harness.types import Frame, GroundTruth

__all__ = ["iterate_files", "read_image"]


def read_image(path: Path) -> cv2.typing.MatLike:
    """Decode an image as BGR, or raise DataMissing naming the file (a JPEG cut short is not an image either).

    libjpeg decodes a truncated JPEG with a warning and grey where the data ended; measuring that frame as
    if it were whole would score OCR on a picture nobody took, so a JPEG without its end marker is refused.
    """
    try:
        data = path.read_bytes()  # read once: decoded and checked from the same bytes
    except OSError:
        data = b""
    if _truncated_jpeg(data):
        raise DataMissing(f"cannot read image {path}: a JPEG cut short (no end-of-image marker)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise DataMissing(f"cannot read image {path}: missing or not an image")
    return image


def _truncated_jpeg(data: bytes) -> bool:
    """A JPEG (SOI marker first) whose last 64 bytes before any trailing padding hold no EOI marker."""
    return data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-4096:].rstrip(b"\0\r\n\t ")[-64:]


def iterate_files(
    paths: Sequence[Path],
    name: str,
    loop: bool,
    truth: Callable[[Path, np.ndarray], GroundTruth | None],
    word_crop: bool = False,
) -> Iterator[Frame]:
    """Frames, one per file, decoded when asked for; cycle through the list when ``loop``.

    ``word_crop``: the files are single-word crops (frames say so, and OCR backends skip detection).

    A file that cannot be decoded gives a frame with no image and its ``error`` set, so the run records
    it as a failed frame and goes on with the next file. The files are read into the page cache here,
    when the frames are asked for (setup, or a restart between warm-up and measurement), never inside a
    frame's capture.
    """
    _into_page_cache(paths)
    return _decoded(paths, name, loop, truth, word_crop)


def _decoded(
    paths: Sequence[Path], name: str, loop: bool, truth: Callable[[Path, np.ndarray], GroundTruth | None], word_crop: bool
) -> Iterator[Frame]:
    frame_id = 0
    while True:
        for path in paths:
            try:
                image = read_image(path)
            except DataMissing as exc:
                yield Frame(frame_id, time.monotonic_ns(), None, name, path.name, error=str(exc))
            else:
                yield Frame(frame_id, time.monotonic_ns(), image, name, path.name, truth(path, image), word_crop=word_crop)
            frame_id += 1
        if not loop or not paths:
            return


def _into_page_cache(paths: Sequence[Path]) -> None:
    """Read every file once before the first frame, so capture measures decoding, not a cold disk.

    Otherwise the first configuration on a source pays the disk reads alone (30 ms per IC15 photo here)
    and the configurations after it do not; unreadable files are left to fail as frames.
    """
    for path in paths:
        try:
            with path.open("rb") as handle:
                while handle.read(1 << 20):
                    pass
        except OSError:
            continue


def replay_rendered(rendered: Sequence[tuple[np.ndarray, GroundTruth]], source: str, name_format: str, loop: bool) -> Iterator[Frame]:
    """Frames from images rendered in memory, in order, cycling when ``loop``; ids keep increasing.

    Each frame gets a copy of its image, as a camera delivers a new buffer, so downstream stages may
    draw on it. ``name_format`` makes the frame's name from its index in ``rendered``.
    """
    ids = itertools.count() if loop else range(len(rendered))
    for frame_id in ids:
        index = frame_id % len(rendered)
        image, truth = rendered[index]
        yield Frame(frame_id, time.monotonic_ns(), image.copy(), source, name_format.format(index), truth)
