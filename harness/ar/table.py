"""The AR comparison table from a finished run (it only reads the store): each policy against per-frame.

``python -m harness.ar.table RUN_DIR [--baseline per-frame]`` prints Markdown, one row per configuration
with an ``[[ar]]`` id: overlay FPS and its ratio to the same source's per-frame row, capture-to-overlay
latency p50/p90/p99, keyframes per second, drift (mean IoU), staleness p50/p90, time to first
translation p50/p90 (and words missed), mean sentence chrF and its difference to per-frame, and the
translation reuse rate.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from harness.store.reader import load_run, read_frames
from harness.store.schema import FRAMES
from harness.store.summary import summarize

__all__ = ["ar_table", "main"]

HEADER = (
    "| source | policy | overlay FPS | × per-frame | latency p50/p90/p99 ms | keyframes/s | drift IoU | staleness p50/p90 ms "
    "| TTFT p50/p90 ms (missed) | chrF | Δ chrF | display chrF | Δ display | reuse |"
)


def _value(rows: pd.DataFrame, stage: str, column: str) -> float:
    hit = rows[rows["stage"] == stage]
    if hit.empty:
        return math.nan
    value = hit.iloc[0][column]
    return math.nan if value is None or pd.isna(value) else float(value)


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def ar_table(summary: pd.DataFrame, baseline: str = "per-frame") -> str:
    """The Markdown table of a run's summary (configuration ids ``source/ocr/mt/policy``)."""
    lines = [HEADER, "|" + "|".join("---" for _ in range(14)) + "|"]
    ids = list(dict.fromkeys(summary["config_id"]))
    for config_id in ids:
        parts = config_id.split("/")
        if len(parts) < 4:
            continue
        rows = summary[summary["config_id"] == config_id]
        base = summary[summary["config_id"] == "/".join([*parts[:-1], baseline])]
        fps, base_fps = _value(rows, "e2e", "overlay_fps"), _value(base, "e2e", "overlay_fps")
        chrf, base_chrf = _value(rows, "e2e", "mt_chrf"), _value(base, "e2e", "mt_chrf")
        shown, base_shown = _value(rows, "e2e", "ar_display_chrf"), _value(base, "e2e", "ar_display_chrf")
        latency = "/".join(_fmt(_value(rows, "latency", c), 0) for c in ("p50_ms", "p90_ms", "p99_ms"))
        stale = "/".join(_fmt(_value(rows, "staleness", c), 0) for c in ("p50_ms", "p90_ms"))
        ttft = "/".join(_fmt(_value(rows, "ttft", c), 0) for c in ("p50_ms", "p90_ms"))
        missed = _value(rows, "e2e", "ar_ttft_missed")
        cells = [
            parts[0],
            parts[-1],
            _fmt(fps),
            _fmt(fps / base_fps) if base_fps else "-",
            latency,
            _fmt(_value(rows, "e2e", "ar_keyframes_per_s"), 2),
            _fmt(_value(rows, "e2e", "ar_drift_iou"), 3),
            stale,
            f"{ttft} ({_fmt(missed, 0)})",
            _fmt(chrf),
            _fmt(chrf - base_chrf),
            _fmt(shown),
            _fmt(shown - base_shown),
            _fmt(_value(rows, "e2e", "ar_cache_hit_rate"), 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the table of one run directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--baseline", default="per-frame")
    args = parser.parse_args(argv)
    run = load_run(args.run)
    summary = run.summary
    if summary is None:  # an unfinished run: compute it from the frames written so far
        records, _ = read_frames(args.run / FRAMES)
        summary = summarize(records, run.manifest.get("configurations", []))
    print(ar_table(summary, args.baseline))


if __name__ == "__main__":
    main()
