"""What leaves the device under each placement: the talk's privacy-vs-offload tradeoff as data.

Levels are ordered by how much of the scene a server (and anyone on the path) can see: ``none`` (nothing
leaves), ``text`` (the recognized strings only), ``text-pixels`` (pixels of the detected text regions),
``all-pixels`` (the whole frame: faces, screens, surroundings). The bytes that left are counted per frame
(the ``payload_up_bytes`` of the offload span).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXPOSURE", "Exposure", "exposure"]


@dataclass(frozen=True)
class Exposure:
    """The privacy level of one placement: a rank (0 = nothing leaves) and what is sent."""

    level: str
    rank: int
    sends: str


EXPOSURE = {
    "local": Exposure("none", 0, "nothing"),
    "ocr-local": Exposure("text", 1, "recognized text strings"),
    "det-local": Exposure("text-pixels", 2, "pixels of the detected text regions (rectified crops)"),
    "cloud": Exposure("all-pixels", 3, "every pixel of the frame (encoded, possibly downscaled)"),
}


def exposure(placement: str) -> Exposure:
    """The exposure of a placement (one of harness.offload.options.PLACEMENTS)."""
    return EXPOSURE[placement]
