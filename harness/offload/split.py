"""OCR cut between detection and recognition, for the ``det-local`` placement.

The device detects text and sends the crops; the server recognizes them. An OCR backend that can be cut
offers the two halves itself (``OcrSplit``: ``detect`` and ``read``): the PP-OCR backends (rapidocr,
litert) run the same steps their ``recognize`` does (det in "ocr.det" on the device; cls and rec in
"ocr.cls" / "ocr.rec" on the server), the null backend crops the ground-truth boxes and names each crop
instead of reading it (it measures the harness, not a model). Backends without them cannot run det-local.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from harness.errors import BackendUnavailable
from harness.trace import Tracer
from harness.types import Frame, Quad

__all__ = ["OcrSplit", "split_ocr"]


@runtime_checkable
class OcrSplit(Protocol):
    """One OCR backend, cut in two: ``detect`` on the device, ``read`` on the server."""

    def detect(self, frame: Frame, tracer: Tracer) -> tuple[list[np.ndarray], list[Quad]]:
        """Crops of the detected text regions (rectified) and their quads in frame pixels."""
        ...

    def read(self, crops: list[np.ndarray], tracer: Tracer) -> list[tuple[int, str, float]]:
        """(crop index, text, confidence) of the crops that pass the backend's score filter."""
        ...


def split_ocr(ocr: Any) -> OcrSplit:
    """The OCR backend as its two halves, or BackendUnavailable when it cannot be cut after detection."""
    if not isinstance(ocr, OcrSplit):
        raise BackendUnavailable(
            f"det-local: OCR backend {getattr(ocr, 'name', ocr)!r} cannot be cut after detection (it has no detect and read"
            " steps); use rapidocr, litert or null"
        )
    return ocr
