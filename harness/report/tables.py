"""The summary of a run as a terminal table and as Markdown. Reads the store only."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from harness.store.reader import Run
from harness.store.summary import summarize

__all__ = ["floor_lines", "markdown_table", "overhead_lines", "rate_lines", "run_status_line", "run_summary", "terminal_table"]

COLUMNS = [
    ("config_id", "configuration"),
    ("stage", "stage"),
    ("n", "n"),
    ("mean_ms", "mean ms"),
    ("p50_ms", "p50 ms"),
    ("p50_ci", "p50 95% CI"),
    ("p90_ms", "p90 ms"),
    ("p99_ms", "p99 ms"),
    ("fps", "fps"),
    ("ocr_cer", "CER"),
    ("ocr_wer", "WER"),
    ("ocr_wer_bag", "WER (order-free)"),
    ("ocr_word_recall", "word recall"),
    ("mt_chrf", "chrF"),
    ("det_hmean", "det hmean"),
    ("e2e_hmean", "e2e hmean"),
    ("rec_accuracy", "rec acc"),
    ("status", "status"),
]


def run_summary(run: Run) -> pd.DataFrame:
    """The stored summary, or one computed from frames.jsonl for a run that did not finish."""
    if run.complete and run.summary is not None:
        return run.summary
    records = run.frames.to_dict("records") if not run.frames.empty else []
    return summarize(records, run.manifest.get("configurations", []))


def run_status_line(run: Run) -> str:
    """One line saying whether the run is complete, and if not, why its numbers are partial."""
    status = run.manifest.get("status", "unknown")
    frames = len(run.frames)
    if run.complete:
        return f"run {run.manifest['run_id']}: complete, {frames} frame records"
    note = f", {run.bad_lines} unreadable line(s) skipped" if run.bad_lines else ""
    return f"run {run.manifest['run_id']}: PARTIAL (status {status!r}), summary computed from {frames} completed frame records{note}"


def overhead_lines(summary: pd.DataFrame) -> list[str]:
    """Per configuration: the harness's own time per frame and its share of the frame period."""
    lines = []
    for config_id, rows in summary.groupby("config_id", sort=False):
        stages = rows.set_index("stage")
        if "harness" not in stages.index or "e2e" not in stages.index:
            continue
        harness, e2e = float(stages.loc["harness", "mean_ms"]), float(stages.loc["e2e", "mean_ms"])
        share = 100.0 * harness / (harness + e2e)
        lines.append(f"harness overhead {config_id}: {harness:.3f} ms/frame = {share:.2f}% of the frame period ({harness + e2e:.2f} ms)")
    return lines


def floor_lines(summary: pd.DataFrame) -> list[str]:
    """Per configuration: the time inside the models' runtimes beside the frame's (the floor under e2e).

    Only where the backends measure it (the ``models`` row of summary.csv); what lies between the two is
    everything the pipeline does around the models: pre- and post-processing, crops, tokenizing, drawing.
    """
    lines = []
    for config_id, rows in summary.groupby("config_id", sort=False):
        stages = rows.set_index("stage")
        if "models" not in stages.index or "e2e" not in stages.index:
            continue
        models, e2e = stages.loc["models"], stages.loc["e2e"]
        outside = e2e.get("outside_models_pct")
        share = "" if _missing(outside) else f"; {outside:.1f}% of the mean frame is outside the models"
        lines.append(f"floor {config_id}: models p50 {models['p50_ms']:.1f} ms of the frame's p50 {e2e['p50_ms']:.1f} ms{share}")
    return lines


def rate_lines(summary: pd.DataFrame) -> list[str]:
    """Per configuration: throughput, and for camera-paced runs frames offered, dropped and late."""
    lines = []
    for row in summary[summary["stage"] == "e2e"].to_dict("records"):
        text = f"{row['config_id']}: throughput {row['throughput_fps']:.2f} frames/s" if not _missing(row.get("throughput_fps")) else ""
        if not _missing(row.get("frames_offered")):
            offered = int(row["frames_offered"])
            dropped, late = int(row["frames_dropped"]), int(row["deadline_misses"])
            text += f"; camera-paced: {offered} frames offered, {dropped} dropped ({100 * dropped / offered:.1f}%), {late} deadline misses"
        if not _missing(row.get("peak_rss_mb")):
            text += f"; peak RSS {row['peak_rss_mb']:.0f} MiB"
        if not _missing(row.get("model_mb")) and row["model_mb"] > 0:
            text += f"; models {row['model_mb']:.2f} MB on disk"
        if text:
            lines.append(text)
    return lines


def _cell(column: str, row: dict[str, Any]) -> str:
    if column == "p50_ci":
        low, high = row.get("p50_ci_low_ms"), row.get("p50_ci_high_ms")
        return "" if _missing(low) else f"{low:.1f}–{high:.1f}"
    value = row.get(column)
    if _missing(value):
        return ""
    if column == "n":
        return str(int(value))
    if isinstance(value, float):
        three = ("ocr_cer", "ocr_wer", "ocr_wer_bag", "ocr_word_recall", "det_hmean", "e2e_hmean", "rec_accuracy")
        return f"{value:.3f}" if column in three else f"{value:.2f}"
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _rows(summary: pd.DataFrame) -> list[list[str]]:
    records = summary.to_dict("records")
    return [[_cell(c, r) for c, _ in COLUMNS] for r in records]


def terminal_table(summary: pd.DataFrame) -> str:
    """Aligned plain-text table."""
    header = [title for _, title in COLUMNS]
    rows = _rows(summary)
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def markdown_table(summary: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown table."""
    header = [title for _, title in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(summary)]
    return "\n".join(lines)
