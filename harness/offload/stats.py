"""Offload columns of summary.csv's ``e2e`` row, from the measured frames' ``offload`` fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.store.columns import SummaryColumns

__all__ = ["OFFLOAD_COLUMNS", "SUMMARY", "offload_columns"]

OFFLOAD_COLUMNS = (
    "placement",
    "network",
    "privacy_level",
    "bytes_up_mean",
    "bytes_down_mean",
    "payload_up_bytes_mean",
    "payload_down_bytes_mean",
    "server_p50_ms",
    "fallback_frames",
    "network_note",
)


def offload_columns(records: Sequence[dict[str, Any]], durations: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """The offload columns of one configuration ({} when nothing was offloaded).

    Means of bytes per frame (on the wire: ``bytes_*``; HTTP bodies: ``payload_*``), the server's median
    compute, frames that fell back to local, privacy level and what shaping was (not) applied.
    """
    frames = [r for r in records if not r["warmup"] and r["ok"] and "offload" in r]
    if not frames:
        return {}
    offload = [r["offload"] for r in frames]
    roundtrips = [s.get("attrs") or {} for r in frames for s in r["spans"] if s["name"] == "offload.roundtrip"]
    servers = [a["server_ns"] for a in roundtrips if a.get("server_ns") is not None]  # a timed-out roundtrip (fallback) has none
    network = offload[0].get("network", {})
    return {
        "placement": offload[0]["placement"],
        "network": network.get("profile", ""),
        "privacy_level": offload[0]["privacy_level"],
        "bytes_up_mean": float(np.mean([r["bytes_up"] for r in frames])),
        "bytes_down_mean": float(np.mean([r["bytes_down"] for r in frames])),
        "payload_up_bytes_mean": float(np.mean([o["payload_up_bytes"] for o in offload])),
        "payload_down_bytes_mean": float(np.mean([o["payload_down_bytes"] for o in offload])),
        "server_p50_ms": float(np.median(servers)) / 1e6 if servers else None,
        "fallback_frames": sum(bool(o.get("fallback")) for o in offload),
        "network_note": network.get("note", ""),
    }


SUMMARY = SummaryColumns(OFFLOAD_COLUMNS, offload_columns)  # registered in harness.registry.SUMMARY_FEATURES
