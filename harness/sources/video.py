"""A video file decoded with OpenCV; each decoded frame is one capture."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from harness.errors import DataMissing
from harness.sources.base import SourceBase, opens
from harness.types import Frame

__all__ = ["VideoOptions", "VideoSource"]


@dataclass(frozen=True)
class VideoOptions:
    """``path``: the file; ``loop``: rewind at the end instead of stopping; ``limit``: frames (0: all)."""

    path: str
    loop: bool = False
    limit: int = 0


class VideoSource(SourceBase):
    """Frames of a video file, in order."""

    timed = True  # at the rate the file says

    def __init__(self, options: VideoOptions, context: object = None) -> None:
        self.options = options
        self.name = f"video:{Path(options.path).name}"
        self._capture: Any = None
        self.fps = 0.0

    def open(self) -> None:
        path = Path(self.options.path)
        if not path.is_file():
            raise DataMissing(f"video file not found: {path}")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise DataMissing(f"cannot decode video {path}: unsupported format or codec")
        self._capture = capture
        self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)

    def frames(self) -> Iterator[Frame]:
        frame_id = 0
        while not self.options.limit or frame_id < self.options.limit:
            ok, image = self._capture.read()
            if not ok:
                if not self.options.loop or frame_id == 0:
                    return
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            yield Frame(frame_id, time.monotonic_ns(), image, self.name, f"frame_{frame_id:06d}")
            frame_id += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


preflight = opens(VideoSource)  # before a run: the files (or the camera) are there and open
