"""Per-configuration, per-stage statistics (summary.csv) computed from frame records.

Stages are the span names found in the records plus two derived ones:
- ``e2e``: from the start of capture to the end of the frame's last top-level stage;
- ``harness``: the time between two consecutive frames' capture starts that no top-level stage span
  covers — the harness's own per-frame work (bookkeeping, accuracy scoring, writing the record).
Only measured (non-warm-up), successful frames count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics.latency import latency_stats

__all__ = ["ACCURACY_COLUMNS", "SUMMARY_COLUMNS", "summarize"]

SUMMARY_COLUMNS = [
    "config_id",
    "stage",
    "n",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p50_ci_low_ms",
    "p50_ci_high_ms",
    "fps",
]
ACCURACY_COLUMNS = ["ocr_cer", "ocr_word_recall", "mt_chrf"]
STAGE_ORDER = ["capture", "ocr", "ocr.det", "ocr.cls", "ocr.rec", "mt", "overlay", "e2e", "harness"]


def _frame_durations(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Durations in ms per stage over consecutive records of one configuration."""
    durations: dict[str, list[float]] = defaultdict(list)
    for index, record in enumerate(records):
        if record["warmup"] or not record["ok"]:
            continue
        spans = record["spans"]
        for span in spans:
            durations[span["name"]].append((span["end_ns"] - span["start_ns"]) / 1e6)
        top = [s for s in spans if "." not in s["name"]]
        if not top:
            continue
        start = top[0]["start_ns"]
        durations["e2e"].append((max(s["end_ns"] for s in top) - start) / 1e6)
        following = records[index + 1]["spans"] if index + 1 < len(records) else []
        if following and records[index + 1]["seq"] == record["seq"] + 1:
            covered = sum(s["end_ns"] - s["start_ns"] for s in top)
            durations["harness"].append((following[0]["start_ns"] - start - covered) / 1e6)
    return durations


def _accuracy(records: list[dict[str, Any]]) -> dict[str, float | None]:
    measured = [r.get("accuracy") or {} for r in records if not r["warmup"] and r["ok"]]
    result: dict[str, float | None] = {}
    for column in ACCURACY_COLUMNS:
        values = [a[column] for a in measured if a.get(column) is not None]
        result[column] = float(np.mean(values)) if values else None
    return result


def _order(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)


def summarize(records: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> pd.DataFrame:
    """Build summary.csv as a DataFrame: one row per configuration and stage.

    Failed configurations get one row with stage "-" and their reason. ``outcomes`` are the manifest's
    configuration entries.
    """
    by_config: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_config[record["config_id"]].append(record)
    rows = []
    for outcome in outcomes:
        config_id = outcome["config_id"]
        config_records = sorted(by_config.get(config_id, []), key=lambda r: r["seq"])
        durations = _frame_durations(config_records)
        accuracy = _accuracy(config_records)
        base = {"status": outcome.get("status", "unknown"), "reason": outcome.get("reason") or ""}
        if not durations:
            rows.append({"config_id": config_id, "stage": "-", "n": 0, **base})
            continue
        for stage in sorted(durations, key=_order):
            stats = asdict(latency_stats(np.array(durations[stage])))
            extra = accuracy if stage == "e2e" else {}
            rows.append({"config_id": config_id, "stage": stage, **stats, **extra, **base})
    return pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *ACCURACY_COLUMNS, "status", "reason"])
