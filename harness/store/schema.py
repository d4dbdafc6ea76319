"""The result schema: its version, the file names and the record vocabulary (how one frame becomes one JSON line).

See docs/results.md for the full description of a run directory. ``SCHEMA_VERSION`` goes up whenever a
field or column is added, removed or changes its meaning; ``VERSIONS`` says what each version changed and
is what the reader accepts.
"""

from __future__ import annotations

from typing import Any, TypedDict

from harness.types import FrameResult, Span

__all__ = ["FRAMES", "MANIFEST", "SCHEMA_VERSION", "SUMMARY", "VERSIONS", "FrameRecord", "SpanRecord", "frame_record", "span_record"]

VERSIONS = {
    1: "the first schema (2026-11)",
    2: (
        "summary.csv says how each p50 CI was made (p50_ci_method); the manifest's resolved components carry their"
        " numeric precision and resolved models and each source whether it is live; the run-wide metrics.latency_ci"
        " (which said order statistics even"
        " where rounds made it a bootstrap over frames) is gone"
    ),
}
SCHEMA_VERSION = max(VERSIONS)
MANIFEST = "manifest.json"
FRAMES = "frames.jsonl"
SUMMARY = "summary.csv"


class SpanRecord(TypedDict, total=False):
    """One stored span; ``attrs`` only when the span has attributes."""

    name: str
    start_ns: int
    end_ns: int
    attrs: dict[str, Any]


class FrameRecord(TypedDict, total=False):
    """One line of frames.jsonl; the fields from ``frame_id`` on are absent when capture failed."""

    config_id: str
    seq: int
    warmup: bool
    ok: bool
    error: str | None
    spans: list[SpanRecord]
    bytes_up: int
    bytes_down: int
    frame_id: int
    frame_name: str
    source: str
    regions: list[dict[str, Any]]
    targets: list[str] | None
    reference: str  # the reference translation, where the frame has one (corpus BLEU / chrF)
    accuracy: dict[str, Any]
    ar: dict[str, Any]  # the real-time AR mode only (harness.ar): keyframes, staleness, drift, time to first translation
    offload: dict[str, Any]  # offloaded placements only: placement, network, privacy, payload and wire bytes, fallback
    pacing: dict[str, Any]  # camera-paced runs only (harness.run.scenarios): arrival, drops, latency, deadline
    energy: dict[str, dict[str, Any]]  # per span name and "e2e": gross_j, net_j, coverage (harness.energy.meter)
    round: int  # with [run] rounds > 1: which round measured it (0-based)


def span_record(span: Span) -> SpanRecord:
    """One span as stored: name, start_ns, end_ns and attributes when there are any."""
    item = SpanRecord(name=span.name, start_ns=span.start_ns, end_ns=span.end_ns)
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
) -> FrameRecord:
    """The JSON object for one processed (or failed) frame of one configuration."""
    record = FrameRecord(
        config_id=config_id,
        seq=seq,
        warmup=warmup,
        ok=error is None,
        error=error,
        spans=[span_record(s) for s in spans],
        bytes_up=0,
        bytes_down=0,
    )
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
        if result.ar is not None:  # the AR mode (harness.ar.pipeline)
            record["ar"] = result.ar
        if result.offload is not None:  # bytes on the wire, HTTP headers included (harness.offload.client)
            record.update(bytes_up=result.offload["wire_up_bytes"], bytes_down=result.offload["wire_down_bytes"], offload=result.offload)
        truth = frame.ground_truth
        if truth is not None and truth.reference_translation is not None and result.targets is not None:
            record["reference"] = truth.reference_translation
    return record
