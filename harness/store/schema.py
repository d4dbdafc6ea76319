"""The result schema: version, file names and how one frame becomes one JSON line.

See docs/results.md for the full description of a run directory.
"""

from __future__ import annotations

from typing import Any

from harness.pipeline import FrameResult
from harness.types import Span

__all__ = ["SCHEMA_VERSION", "MANIFEST", "FRAMES", "SUMMARY", "frame_record", "span_record"]

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
FRAMES = "frames.jsonl"
SUMMARY = "summary.csv"


def span_record(span: Span) -> dict[str, Any]:
    """One span as stored: name, start_ns, end_ns and attributes when there are any."""
    item: dict[str, Any] = {"name": span.name, "start_ns": span.start_ns, "end_ns": span.end_ns}
    if span.attrs:
        item["attrs"] = span.attrs
    return item


def frame_record(
    config_id: str,
    seq: int,
    warmup: bool,
    spans: list[Span],
    result: FrameResult | None,
    error: str | None = None,
) -> dict[str, Any]:
    """The JSON object for one processed (or failed) frame of one configuration."""
    record: dict[str, Any] = {
        "config_id": config_id,
        "seq": seq,
        "warmup": warmup,
        "ok": error is None,
        "error": error,
        "spans": [span_record(s) for s in spans],
        "bytes_up": 0,
        "bytes_down": 0,
    }
    if result is not None:
        frame = result.frame
        record.update(
            frame_id=frame.frame_id,
            frame_name=frame.name,
            source=frame.source,
            regions=[{"quad": [list(p) for p in r.quad], "text": r.text, "confidence": r.confidence} for r in result.regions],
            targets=result.targets,
            accuracy=result.accuracy,
        )
    return record
