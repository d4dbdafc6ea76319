"""An OCR backend that does no model work: it returns the frame's ground truth (or nothing).

It lets the harness measure its own overhead with realistic data flowing to MT and overlay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import ConfigError
from harness.trace import Tracer
from harness.types import Frame, Quad, TextRegion

__all__ = ["NullOcr", "NullOcrOptions"]


@dataclass(frozen=True)
class NullOcrOptions:
    """What the null OCR returns, and how long it takes.

    ``echo_ground_truth``: pass the frame's ground-truth words on as if recognized. ``delay_ms``: wait
    that long per frame, a stand-in for a model of known cost (long runs for fault and resume tests).
    """

    echo_ground_truth: bool = True
    delay_ms: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.delay_ms <= 60_000:
            raise ConfigError(f"null OCR delay_ms must be between 0 and 60000, not {self.delay_ms}")


class NullOcr:
    """Returns ground-truth words with confidence 1.0, or no regions."""

    name = "null"

    def __init__(self, options: NullOcrOptions, context: object = None) -> None:
        self.options = options

    def model_files(self) -> tuple[Path, ...]:
        return ()

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        if self.options.delay_ms:
            time.sleep(self.options.delay_ms / 1e3)
        truth = frame.ground_truth
        if not self.options.echo_ground_truth or truth is None:
            return []
        return [TextRegion(w.quad, w.text, 1.0) for w in truth.words if not w.dont_care]

    def detect(self, frame: Frame, tracer: Tracer) -> tuple[list[np.ndarray], list[Quad]]:
        """The device's half of det-local: the ground-truth boxes as detections (axis-aligned crops)."""
        truth = frame.ground_truth
        if frame.image is None or truth is None or not self.options.echo_ground_truth:
            return [], []
        crops, quads = [], []
        height, width = frame.image.shape[:2]
        for word in (w for w in truth.words if not w.dont_care):
            xs, ys = [p[0] for p in word.quad], [p[1] for p in word.quad]
            x0, y0 = max(0, int(min(xs))), max(0, int(min(ys)))
            x1, y1 = min(width, int(np.ceil(max(xs)))), min(height, int(np.ceil(max(ys))))
            if x1 > x0 and y1 > y0:
                crops.append(frame.image[y0:y1, x0:x1])
                quads.append(word.quad)
        return crops, quads

    def read(self, crops: list[np.ndarray], tracer: Tracer) -> list[tuple[int, str, float]]:
        """The server's half of det-local: each crop is "read" as its index (it measures the harness, not a model)."""
        return [(i, f"crop{i}", 1.0) for i in range(len(crops))]

    def close(self) -> None:
        pass
