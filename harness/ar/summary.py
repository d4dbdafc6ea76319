"""AR-mode columns of summary.csv, from the ``ar`` field of frame records (docs/ar.md, docs/results.md).

On the ``e2e`` row: ``overlay_fps`` (overlays shown per second: (n - 1) over the time between the first
and the last measured overlay's end), ``ar_keyframes_per_s`` (frames read by OCR per second, per-frame:
all, both counted after the first measured frame), ``ar_drift_iou`` (mean IoU of shown regions against
their truth words), ``ar_display_chrf`` (mean chrF of the translation on display at every camera frame's
arrival against that frame's reference: what the user saw, staleness included), ``ar_ttft_missed`` (words
that were legible and left the view before any translation covered them), ``ar_cache_hit_rate`` and
``ar_identity_hit_rate`` (regions of keyframes whose translation was reused, at all / by region
identity), ``ar_fallback_frames`` (frames processed per-frame because tracking failed),
``ar_energy_per_frame_j`` (gross energy of the whole timeline, waits and background work included, per
shown overlay; empty without an energy sensor). Rows ``bg.ocr``, ``bg.ocr.det``, ..., ``bg.mt``: the
background readings (from ``ar.background_spans``). Derived rows with percentiles: ``staleness`` (age of
the reading behind the overlay, when shown) and ``ttft`` (time to first translation of newly legible words).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.store.columns import SummaryColumns
from harness.store.spans import WAIT, stage_spans

__all__ = ["AR_COLUMNS", "AR_DERIVED", "SUMMARY", "ar_columns"]

AR_COLUMNS = (
    "overlay_fps",
    "ar_keyframes_per_s",
    "ar_drift_iou",
    "ar_display_chrf",
    "ar_ttft_missed",
    "ar_cache_hit_rate",
    "ar_identity_hit_rate",
    "ar_fallback_frames",
    "ar_energy_per_frame_j",
)
AR_DERIVED = ("staleness", "ttft")


def _shown_ns(record: dict[str, Any]) -> int:
    return max(s["end_ns"] for s in stage_spans(record["spans"]))


def ar_columns(records: Sequence[dict[str, Any]], durations: dict[str, list[float]]) -> dict[str, float | None]:
    """The AR columns of one configuration; adds ``staleness`` and ``ttft`` samples (ms) to ``durations``."""
    measured = [r for r in records if not r["warmup"] and r["ok"] and "ar" in r and r["spans"]]
    if not measured:
        return {}
    ar = [r["ar"] for r in measured]
    durations["staleness"] = [a["staleness_ns"] / 1e6 for a in ar if a.get("staleness_ns") is not None]
    durations["ttft"] = [t / 1e6 for a in ar for t in a.get("ttft_ns", [])]
    if not durations["ttft"]:
        del durations["ttft"]
    for a in ar:  # background readings: "bg.ocr", "bg.ocr.det", ..., "bg.mt"
        for span in a.get("background_spans", []):
            durations[f"bg.{span['name']}"].append((span["end_ns"] - span["start_ns"]) / 1e6)
    wall_s = (_shown_ns(measured[-1]) - _shown_ns(measured[0])) / 1e9
    drift = [i for a in ar for i in a.get("drift_ious", [])]
    display = [c for a in ar for c in a.get("display_chrf", [])]
    cache = [a["cache"] for a in ar if a.get("cache")]
    lookups = sum(c["cache_lookups"] for c in cache)
    return {
        "overlay_fps": (len(measured) - 1) / wall_s if wall_s > 0 else None,
        "ar_keyframes_per_s": sum(1 for a in ar[1:] if a.get("keyframe")) / wall_s if wall_s > 0 else None,
        "ar_drift_iou": float(np.mean(drift)) if drift else None,
        "ar_display_chrf": float(np.mean(display)) if display else None,
        "ar_ttft_missed": sum(a.get("missed_words", 0) for a in ar),
        "ar_cache_hit_rate": sum(c["cache_hits"] for c in cache) / lookups if lookups else None,
        "ar_identity_hit_rate": sum(c["identity_hits"] for c in cache) / lookups if lookups else None,
        "ar_fallback_frames": sum(1 for a in ar if a.get("mode") == "fallback"),
        "ar_energy_per_frame_j": _energy_per_frame(measured),
    }


def _energy_per_frame(measured: Sequence[dict[str, Any]]) -> float | None:
    """Gross joules of each frame's wait and e2e windows (the whole timeline), averaged over frames."""
    totals = []
    for record in measured:
        energy = record.get("energy") or {}
        parts = [energy.get(name, {}).get("gross_j") for name in (WAIT, "e2e") if name in energy]
        if not parts or any(p is None for p in parts):
            return None
        totals.append(sum(parts))
    return float(np.mean(totals)) if totals else None


# The AR columns of summary.csv (registered in harness.registry.SUMMARY_FEATURES); staleness samples come
# in runs from one reading, so they get no CI of the median.
SUMMARY = SummaryColumns(AR_COLUMNS, ar_columns, derived=AR_DERIVED, no_ci=("staleness",))
