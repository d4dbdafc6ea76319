"""The AR comparison table from a finished run (it only reads the store): each policy against per-frame.

``python -m harness.ar.table RUN_DIR [--baseline per-frame]`` prints Markdown, one row per configuration
with an ``[[ar]]`` id: overlay FPS and its ratio to the same source's per-frame row, capture-to-overlay
latency p50/p90/p99, keyframes per second, drift (mean IoU), staleness p50/p90, time to first
translation p50/p90 (and words missed), mean sentence chrF and its difference to per-frame with a 95%
interval, and the translation reuse rate.

The interval of Δ chrF is a paired bootstrap over seconds of the video: both configurations read the
same video, so each resample draws whole seconds (with replacement) and compares the two means over
the frames each scored in those seconds. Drawing seconds, not frames, keeps the strong correlation of
neighbouring frames inside a resample, and pairing by time compares the same stretch of video.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.store.reader import load_run, read_frames
from harness.store.schema import FRAMES
from harness.store.summary import summarize

__all__ = ["ar_table", "main"]

HEADER = (
    "| source | policy | overlay FPS | × per-frame | latency p50/p90/p99 ms | keyframes/s | drift IoU | staleness p50/p90 ms "
    "| TTFT p50/p90 ms (missed) | chrF | Δ chrF | Δ chrF 95% CI | display chrF | Δ display | reuse |"
)
RESAMPLES = 2000


def _value(rows: pd.DataFrame, stage: str, column: str) -> float:
    hit = rows[rows["stage"] == stage]
    if hit.empty:
        return math.nan
    value = hit.iloc[0][column]
    return math.nan if value is None or pd.isna(value) else float(value)


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def chrf_by_second(records: list[dict[str, Any]], fps: float) -> dict[int, list[float]]:
    """A configuration's per-frame chrF of measured, scored frames, by the second of video the frame is in."""
    seconds: dict[int, list[float]] = defaultdict(list)
    for record in records:
        chrf = (record.get("accuracy") or {}).get("mt_chrf")
        if not record["warmup"] and record["ok"] and chrf is not None and record.get("frame_id") is not None:
            seconds[int(record["frame_id"] // fps)].append(float(chrf))
    return seconds


def delta_ci(policy: dict[int, list[float]], base: dict[int, list[float]], seed: int = 0) -> tuple[float, float] | None:
    """95% interval of mean chrF (policy − base) by a paired bootstrap over the seconds both scored."""
    shared = sorted(set(policy) & set(base))
    if len(shared) < 4:
        return None
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(RESAMPLES):
        drawn = rng.choice(shared, size=len(shared), replace=True)
        ours = [v for second in drawn for v in policy[second]]
        theirs = [v for second in drawn for v in base[second]]
        deltas.append(float(np.mean(ours)) - float(np.mean(theirs)))
    low, high = np.percentile(deltas, [2.5, 97.5])
    return float(low), float(high)


def ar_table(summary: pd.DataFrame, baseline: str = "per-frame", scored: dict[str, dict[int, list[float]]] | None = None) -> str:
    """The Markdown table of a run's summary (configuration ids ``source/ocr/mt/policy``).

    ``scored``: per configuration, ``chrf_by_second`` of its records, for the interval of Δ chrF.
    """
    scored = scored or {}
    lines = [HEADER, "|" + "|".join("---" for _ in range(15)) + "|"]
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
        base_id = "/".join([*parts[:-1], baseline])
        paired = config_id in scored and base_id in scored and base_id != config_id
        interval = delta_ci(scored[config_id], scored[base_id]) if paired else None
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
            "-" if interval is None else f"{interval[0]:.1f} … {interval[1]:.1f}",
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
    records, _ = read_frames(args.run / FRAMES)
    summary = run.summary
    if summary is None:  # an unfinished run: compute it from the frames written so far
        summary = summarize(records, run.manifest.get("configurations", []))
    by_config: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_config[record["config_id"]].append(record)
    sources = run.manifest.get("experiment", {}).get("config", {}).get("sources", [])
    fps = {source.get("id"): float(source.get("fps") or 30.0) for source in sources}  # synthvideo's default is 30
    scored = {config_id: chrf_by_second(rows, fps.get(config_id.split("/")[0], 30.0)) for config_id, rows in by_config.items()}
    print(ar_table(summary, args.baseline, scored))


if __name__ == "__main__":
    main()
