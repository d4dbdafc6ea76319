"""OCR cut between detection and recognition, for the ``det-local`` placement.

The device detects text and sends the crops; the server recognizes them. Backends are split by an
adapter chosen by the backend's ``name`` (a name → factory table, as in harness.registry): ``rapidocr``
drives the same PP-OCR steps its ``recognize`` does (det in "ocr.det" on the device; cls and rec in
"ocr.cls" / "ocr.rec" on the server), ``null`` crops the ground-truth boxes and names each crop instead
of reading it (it measures the harness, not a model). Backends without an adapter cannot run det-local.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from harness.errors import BackendUnavailable
from harness.trace import Tracer
from harness.types import Frame, Quad, quad_from_array

__all__ = ["OcrSplit", "split_ocr"]


class OcrSplit(Protocol):
    """One OCR backend, cut in two: ``detect`` on the device, ``read`` on the server."""

    def detect(self, frame: Frame, tracer: Tracer) -> tuple[list[np.ndarray], list[Quad]]:
        """Crops of the detected text regions (rectified) and their quads in frame pixels."""
        ...

    def read(self, crops: list[np.ndarray], tracer: Tracer) -> list[tuple[int, str, float]]:
        """(crop index, text, confidence) of the crops that pass the backend's score filter."""
        ...


class _RapidOcrSplit:
    """PP-OCRv4: the steps of ``RapidOcr.recognize``, cut after detection (uses its engine directly)."""

    def __init__(self, ocr: Any) -> None:
        self.ocr = ocr

    def detect(self, frame: Frame, tracer: Tracer) -> tuple[list[np.ndarray], list[Quad]]:
        if frame.image is None:
            raise ValueError("det-local needs an image; this frame carries only text")
        detected = self.ocr._detect(frame.image, tracer)  # the backend's own detection step, span "ocr.det" included
        if detected is None:
            return [], []
        crops, quads = detected
        return list(crops), [quad_from_array(q) for q in quads]

    def read(self, crops: list[np.ndarray], tracer: Tracer) -> list[tuple[int, str, float]]:
        if not crops:
            return []
        engine = self.ocr._engine
        if self.ocr.options.use_cls:
            with tracer.span("ocr.cls"):
                crops, _, _ = engine.text_cls(crops)
        with tracer.span("ocr.rec"):
            recognized, _ = engine.text_rec(crops, False)
        threshold = self.ocr.options.text_score
        return [(i, str(r[0]), float(r[1])) for i, r in enumerate(recognized) if float(r[1]) >= threshold and str(r[0]).strip()]


class _NullSplit:
    """Ground-truth boxes as detections (axis-aligned crops); each crop is "read" as its index."""

    def __init__(self, ocr: Any) -> None:
        self.ocr = ocr

    def detect(self, frame: Frame, tracer: Tracer) -> tuple[list[np.ndarray], list[Quad]]:
        truth = frame.ground_truth
        if frame.image is None or truth is None or not self.ocr.options.echo_ground_truth:
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
        return [(i, f"crop{i}", 1.0) for i in range(len(crops))]


_SPLITS: dict[str, Callable[[Any], OcrSplit]] = {"rapidocr": _RapidOcrSplit, "null": _NullSplit}


def split_ocr(ocr: Any) -> OcrSplit:
    """The split of an OCR backend, or BackendUnavailable naming the backends that can be split."""
    factory = _SPLITS.get(getattr(ocr, "name", ""))
    if factory is None:
        raise BackendUnavailable(
            f"det-local: OCR backend {getattr(ocr, 'name', ocr)!r} cannot be cut after detection; use one of {', '.join(sorted(_SPLITS))}"
        )
    return factory(ocr)
