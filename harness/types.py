"""Typed values that flow between pipeline stages.

Coordinates are image pixels (x right, y down). A quadrilateral is four (x, y) corners in
clockwise order starting top-left, as ICDAR 2015 stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Frame",
    "FrameResult",
    "GroundTruth",
    "GroundTruthWord",
    "Quad",
    "Span",
    "TextRegion",
    "Translation",
]

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


def quad_from_array(points: Any) -> Quad:
    """Convert a 4x2 array-like of corner points into a ``Quad`` of Python floats."""
    arr = np.asarray(points, dtype=float).reshape(4, 2)
    return tuple((float(x), float(y)) for x, y in arr)  # type: ignore[return-value]


@dataclass(frozen=True)
class GroundTruthWord:
    """One annotated word: where it is and what it says."""

    quad: Quad
    text: str
    dont_care: bool = False  # ICDAR "###": ignored by detection metrics


@dataclass(frozen=True)
class GroundTruth:
    """Ground truth for one frame: word boxes, the frame's source text and its reference translation."""

    words: tuple[GroundTruthWord, ...] = ()
    source_text: str = ""  # legible text in reading order, words joined by spaces
    reference_translation: str | None = None
    crop: bool = False  # a word crop: scored by word recognition, not detection


@dataclass
class Frame:
    """One captured image (or, for MT-only runs, one text) with its capture time on the monotonic clock (ns).

    Image sources set ``image``; text sources (sentence sets for MT-only runs) set ``text`` and leave
    ``image`` None. ``word_crop``: the image is one cropped word (recognition sets such as IC15 word
    crops and IIIT5K), so OCR backends recognize it whole instead of detecting text in it.
    """

    frame_id: int
    capture_ns: int
    image: np.ndarray | None  # BGR, uint8, HxWx3
    source: str = ""
    name: str = ""
    ground_truth: GroundTruth | None = None
    text: str | None = None
    error: str | None = None  # set by a source that could not deliver this frame (an undecodable file)
    word_crop: bool = False


@dataclass(frozen=True)
class TextRegion:
    """A detected and recognized piece of text."""

    quad: Quad
    text: str
    confidence: float


@dataclass(frozen=True)
class Translation:
    """The translation of one region's text by one backend."""

    source: str
    target: str
    backend: str


@dataclass(frozen=True)
class Span:
    """A timed interval on the monotonic clock; names are dotted stage paths ('ocr.det')."""

    name: str
    start_ns: int
    end_ns: int
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        """Length of the span in nanoseconds."""
        return self.end_ns - self.start_ns


@dataclass
class FrameResult:
    """What one frame produced: the frame, its regions and their translations, the overlay image."""

    frame: Frame
    regions: list[TextRegion]
    translations: list[Translation] | None  # None when MT is switched off
    image: np.ndarray | None
    accuracy: dict[str, Any] = field(default_factory=dict)
    offload: dict[str, Any] | None = None  # offloaded placements: bytes, privacy, network (harness.offload.stage)
    ar: dict[str, Any] | None = None  # the real-time AR mode: keyframes, staleness, drift (harness.ar.pipeline)

    @property
    def targets(self) -> list[str] | None:
        """The translated strings, one per region (None when MT is switched off)."""
        return None if self.translations is None else [t.target for t in self.translations]
