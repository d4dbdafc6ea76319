"""Which stored spans are pipeline stages: top-level spans other than the wait for a frame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["e2e_ms", "stage_spans", "top_spans"]


def top_spans(spans: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans that are not parts of another ("ocr", not "ocr.det"), in recorded order."""
    return [s for s in spans if "." not in s["name"]]


def stage_spans(spans: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level spans of the pipeline's stages (waiting for a frame is not a stage)."""
    return [s for s in top_spans(spans) if s["name"] != "wait"]


def e2e_ms(record: dict[str, Any]) -> float | None:
    """A frame record's end-to-end time (ms): its first stage's start to its last stage's end; None without stages."""
    stages = stage_spans(record["spans"])
    return (max(s["end_ns"] for s in stages) - stages[0]["start_ns"]) / 1e6 if stages else None
