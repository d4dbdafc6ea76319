"""The interface every OCR backend implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from harness.trace import Tracer
from harness.types import Frame, TextRegion

__all__ = ["OcrBackend"]


class OcrBackend(Protocol):
    """Finds and reads text in a frame.

    ``recognize`` is called inside the pipeline's "ocr" span and records its parts ("ocr.det",
    "ocr.cls", "ocr.rec") on the tracer where the backend can separate them.
    """

    name: str

    def model_files(self) -> tuple[Path, ...]:
        """Files whose sha256 goes into the run manifest."""
        ...

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        """Regions in reading order (top to bottom, left to right)."""
        ...

    def close(self) -> None:
        """Release sessions and threads."""
        ...
