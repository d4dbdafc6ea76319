"""An OCR backend that does no model work: it returns the frame's ground truth (or nothing).

It lets the harness measure its own overhead with realistic data flowing to MT and overlay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.trace import Tracer
from harness.types import Frame, TextRegion

__all__ = ["NullOcr", "NullOcrOptions"]


@dataclass(frozen=True)
class NullOcrOptions:
    """``echo_ground_truth``: pass the frame's ground-truth words on as if recognized."""

    echo_ground_truth: bool = True


class NullOcr:
    """Returns ground-truth words with confidence 1.0, or no regions."""

    name = "null"

    def __init__(self, options: NullOcrOptions, context: object = None) -> None:
        self.options = options

    def model_files(self) -> tuple[Path, ...]:
        return ()

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        truth = frame.ground_truth
        if not self.options.echo_ground_truth or truth is None:
            return []
        return [TextRegion(w.quad, w.text, 1.0) for w in truth.words if not w.dont_care]

    def close(self) -> None:
        pass
