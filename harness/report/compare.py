"""`arbench compare RUN_A RUN_B`: per configuration and stage, B's median over A's, flagged only beyond noise.

Configurations are matched by ``config_id``. For each stage both runs measured, the ratio of medians
B/A comes with a 95% percentile-bootstrap CI (the runs resampled independently) and a two-sided
Mann–Whitney U test (scipy), which assumes no distribution shape, fit for skewed, multimodal latencies.
A change is flagged only when p < ALPHA and the ratio is more than MIN_CHANGE away from 1: significant
but tiny shifts are common with hundreds of frames, and are not worth a reader's attention.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import UserError
from harness.report.dataset import Dataset, Series, instruction_set
from harness.report.export import Table, fmt, fmt_ci
from harness.report.stats import change_p, ratio_of_medians_ci
from harness.store.reader import Run, load_run
from harness.store.spans import WAIT

__all__ = ["ALPHA", "MIN_CHANGE", "Change", "compare_report", "compare_runs", "compare_table", "method_line", "terminal_text"]

ALPHA = 0.01
MIN_CHANGE = 0.02
STAGES_FIRST = ["e2e", "capture", "ocr", "ocr.det", "ocr.cls", "ocr.rec", "mt", "overlay"]


@dataclass(frozen=True)
class Change:
    """One configuration and stage in both runs: medians (ms), ratio B/A with its CI, p-value and its test, verdict."""

    config_id: str
    stage: str
    n_a: int
    n_b: int
    median_a_ms: float
    median_b_ms: float
    ratio: float
    ratio_low: float
    ratio_high: float
    p_value: float
    test: str = "Mann–Whitney"  # or "Wilcoxon": paired by frame, where both runs read the same frames
    frames_a: int = 0  # distinct source frames behind n_a readings (fewer with rounds); 0: as many as readings
    frames_b: int = 0

    @property
    def verdict(self) -> str:
        """Slower or faster beyond noise, else "same" (not significant, or within MIN_CHANGE)."""
        if not (self.p_value < ALPHA and abs(self.ratio - 1.0) > MIN_CHANGE):
            return "same"
        return "slower" if self.ratio > 1.0 else "faster"


def method_line() -> str:
    """How changes are tested and flagged, for the output and the docs."""
    return (
        "ratio = median(B) / median(A), 95% CI by percentile bootstrap; test (two-sided, scipy): Wilcoxon signed-rank "
        "on each frame's change where both runs read the same frames (resampled in step), else Mann–Whitney U; "
        "a frame read in several rounds counts once (its readings drawn together, tested as their median); "
        f"flagged when p < {ALPHA} and |ratio − 1| > {MIN_CHANGE:.0%}"
    )


def _stages(a: Series, b: Series) -> list[str]:
    names = {s["name"] for one in (a, b) for r in one.records for s in r["spans"]} - {WAIT}
    common = [n for n in names if len(a.stage_ms(n)) and len(b.stage_ms(n))]
    order = {name: i for i, name in enumerate(STAGES_FIRST)}
    return ["e2e", *sorted(common, key=lambda n: (order.get(n, len(order)), n))]


def compare_runs(run_a: Run, run_b: Run) -> tuple[list[Change], list[str]]:
    """Every matched configuration and stage; also lines naming configurations found in one run only."""
    a_series = {s.config_id: s for s in Dataset.from_runs([run_a]).series}
    b_series = {s.config_id: s for s in Dataset.from_runs([run_b]).series}
    changes = []
    for config_id, a in a_series.items():
        b = b_series.get(config_id)
        if b is None:
            continue
        for stage in _stages(a, b):
            x, y = a.stage_ms(stage), b.stage_ms(stage)
            frames = (a.stage_frames(stage), b.stage_frames(stage))  # rounds: a frame's readings go together
            ratio = float(np.median(y) / np.median(x)) if np.median(x) > 0 else float("nan")
            low, high = ratio_of_medians_ci(x, y, frames=frames)
            p, test = change_p(x, y, frames)
            medians = float(np.median(x)), float(np.median(y))
            counts = len(set(frames[0])), len(set(frames[1]))
            changes.append(Change(config_id, stage, len(x), len(y), *medians, ratio, low, high, p, test, *counts))
    unmatched = [f"only in A: {c}" for c in a_series if c not in b_series] + [f"only in B: {c}" for c in b_series if c not in a_series]
    return changes, unmatched


def run_state_warnings(side: str, run: Run) -> list[str]:
    """Warnings for a run that did not finish, or whose configurations failed: its numbers are partial."""
    lines = []
    if run.manifest.get("status") != "complete":
        status = run.manifest.get("status", "unknown")
        lines.append(f"warning: run {side} is {status!r}, not complete: its numbers come from the frames it wrote")
    failed = [c["config_id"] for c in run.manifest.get("configurations", []) if c.get("status") == "failed"]
    if failed:
        lines.append(f"warning: run {side} has failed configurations: {', '.join(failed)}")
    if run.bad_lines:
        lines.append(f"warning: run {side}: {run.bad_lines} unreadable line(s) in frames.jsonl skipped")
    return lines


def isa_warnings(run_a: Run, run_b: Run) -> list[str]:
    """A warning when the two runs ran on different instruction sets (int8 speed and accuracy depend on them)."""
    a, b = instruction_set(run_a), instruction_set(run_b)
    if "unknown" in (a, b):
        return [f"note: instruction set not recorded (A: {a}; B: {b}); runs record it since 2026-12"]
    if a != b:
        return [f"warning: different instruction sets (A: {a}; B: {b}): int8 speed and accuracy do not carry from one to the other"]
    return []


def compare_table(changes: list[Change], run_a: Run, run_b: Run) -> Table:
    """The comparison as a Table (terminal, Markdown or LaTeX)."""
    caption = f"A = {run_a.manifest.get('run_id')} ({run_a.path}), B = {run_b.manifest.get('run_id')} ({run_b.path}); {method_line()}."
    table = Table(
        caption, ["configuration", "stage", "n A", "n B", "A p50 ms", "B p50 ms", "B/A", "95% CI", "p", "test", "change"], label_columns=2
    )
    for c in changes:
        mark = c.verdict if c.verdict == "same" else f"**{c.verdict} ({c.ratio - 1:+.1%})**"
        p = "–" if np.isnan(c.p_value) else f"{c.p_value:.2g}"
        table.rows.append(
            [
                c.config_id,
                c.stage,
                _count(c.n_a, c.frames_a),
                _count(c.n_b, c.frames_b),
                fmt(c.median_a_ms, 2),
                fmt(c.median_b_ms, 2),
                fmt(c.ratio, 3),
                fmt_ci(c.ratio_low, c.ratio_high, 3),
                p,
                c.test,
                mark,
            ]
        )
    return table


def _count(readings: int, frames: int) -> str:
    """Readings, and the frames behind them where rounds read frames more than once."""
    return str(readings) if frames in (0, readings) else f"{readings} ({frames} frames)"


def terminal_text(table: Table) -> str:
    """Aligned plain text with the caption first (Markdown emphasis removed)."""
    rows = [[cell.replace("**", "") for cell in row] for row in table.rows]
    widths = [max(len(x) for x in col) for col in zip(table.columns, *rows, strict=True)]
    lines = [table.caption, "  ".join(h.ljust(w) for h, w in zip(table.columns, widths, strict=True))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def compare_report(path_a: Path, path_b: Path, markdown: bool = False) -> str:
    """What `arbench compare` prints: the table, then configurations found in one run only."""
    run_a, run_b = load_run(path_a), load_run(path_b)
    changes, unmatched = compare_runs(run_a, run_b)
    if not changes:
        raise UserError(f"{path_a} and {path_b} have no configuration (config_id) with measured frames in common; nothing to compare")
    table = compare_table(changes, run_a, run_b)
    flagged = sum(c.verdict != "same" for c in changes)
    tail = [f"{flagged} of {len(changes)} configuration-stage pairs changed beyond noise", *unmatched, *isa_warnings(run_a, run_b)]
    tail += [line for side, run in (("A", run_a), ("B", run_b)) for line in run_state_warnings(side, run)]
    if markdown:
        return table.to_markdown() + "\n" + "\n".join(f"- {line}" for line in tail)
    return terminal_text(table) + "\n" + "\n".join(tail)
