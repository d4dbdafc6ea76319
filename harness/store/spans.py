"""Which spans are pipeline stages: the one rule, on names, for stored span records and live spans alike.

A span's name is a dotted path: "ocr" is a stage, "ocr.det" a part of it. A stage is a top-level span other
than "wait" (a paced scenario waiting for the next frame). Everything that needs stages (e2e time, energy
windows, the AR mode's display time, the server's compute time, figures) asks here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MODEL_NS", "WAIT", "e2e_ms", "is_stage", "is_top", "model_ms", "stage_spans", "top_spans"]

WAIT = "wait"  # the span a paced scenario records while waiting for the next frame
MODEL_NS = "model_ns"  # a span's attribute: time (ns) its backend spent inside a model's runtime
MODEL_STAGES = ("ocr", "mt")  # stages whose backends run models


def is_top(name: str) -> bool:
    """A span that is not part of another ("ocr", not "ocr.det")."""
    return "." not in name


def is_stage(name: str) -> bool:
    """A stage of the pipeline: a top-level span other than the wait for a frame."""
    return is_top(name) and name != WAIT


def top_spans(spans: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans that are not parts of another ("ocr", not "ocr.det"), in recorded order."""
    return [s for s in spans if is_top(s["name"])]


def stage_spans(spans: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level spans of the pipeline's stages (waiting for a frame is not a stage)."""
    return [s for s in spans if is_stage(s["name"])]


def e2e_ms(record: dict[str, Any]) -> float | None:
    """A frame record's end-to-end time (ms): its first stage's start to its last stage's end; None without stages."""
    stages = stage_spans(record["spans"])
    return (max(s["end_ns"] for s in stages) - stages[0]["start_ns"]) / 1e6 if stages else None


def model_ms(record: dict[str, Any]) -> float | None:
    """A frame record's time inside models' runtimes (ms): the sum of its spans' ``model_ns``.

    None unless every model stage the frame ran ("ocr", "mt") has a part that says its ``model_ns``: a
    backend that does not measure it would otherwise count as taking no time.
    """
    spans = record["spans"]
    ran = {s["name"] for s in stage_spans(spans) if s["name"] in MODEL_STAGES}
    timed = {s["name"].split(".")[0] for s in spans if MODEL_NS in (s.get("attrs") or {})}
    if not ran or not ran <= timed:
        return None
    return sum((s.get("attrs") or {}).get(MODEL_NS, 0) for s in spans) / 1e6
