"""Latency figures: where each frame's time goes (stacked stages) and end-to-end latency CDFs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator

from harness.metrics.latency import estimable, min_frames
from harness.report.columns import is_missing
from harness.report.dataset import Dataset, Series
from harness.report.export import Table, fmt, fmt_ci
from harness.report.figures import Drawn, Skip
from harness.report.stats import bootstrap_ci
from harness.report.style import DOUBLE_IN, SINGLE_IN, ci_bars, color, figure_legend, legend_height_in, new_figure
from harness.store.spans import WAIT

__all__ = ["STAGE_COLORS", "latency_cdf", "stage_latency", "stage_parts"]

# One colour per stage in every figure (Okabe–Ito); stages not listed get grey.
STAGE_COLORS = {
    "capture": "#999999",
    "offload": "#D55E00",
    "offload.encode": "#F0E442",
    "offload.roundtrip": "#D55E00",
    "offload.decode": "#000000",
    "ocr": "#0072B2",
    "ocr.det": "#0072B2",
    "ocr.cls": "#56B4E9",
    "ocr.rec": "#009E73",
    "mt": "#E69F00",
    "overlay": "#CC79A7",
    "other": "#DDDDDD",
}
STAGE_ORDER = [
    "capture",
    "ocr",
    "ocr.det",
    "ocr.cls",
    "ocr.rec",
    "offload",
    "offload.encode",
    "offload.roundtrip",
    "offload.decode",
    "mt",
    "overlay",
]
MIN_OTHER_SHARE = 0.005  # "other" (gaps between spans, a stage's own time outside its parts) drawn from 0.5% of a frame
MAX_LEGEND_IN = 1.0  # the tallest legend a one-column CDF carries above its 2-inch axes
PERCENTILES = ((50, "o", "p50"), (90, "s", "p90"), (99, "^", "p99"))
LOG_SPAN = 20.0  # a latency axis becomes logarithmic when its values span more than this factor


def _order(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)


def stage_parts(series: Sequence[Series]) -> list[str]:
    """The finest stages that tile a frame: each top-level stage, or its parts (``ocr.det`` …) when it has some.

    MT stays one stage: only some MT backends time parts (tokenize, translate, detokenize), and a stage
    split in some bars and whole in others would not compare. Parts of parts (``ocr.det.h2d``, a copy to
    a GPU inside det) are left inside their part.
    """
    spans = (s["name"] for one in series for r in one.records for s in r["spans"])
    names = {name for name in spans if name != WAIT and not name.startswith("mt.") and name.count(".") <= 1}
    parents = {n.split(".")[0] for n in names if "." in n}
    return sorted((n for n in names if n not in parents), key=_order)


def _stage_means(one: Series, parts: list[str]) -> dict[str, float]:
    """Mean ms per measured frame in each part, and "other": the rest of the end-to-end time."""
    means = {part: float(one.stage_ms_per_frame(part).mean()) for part in parts}
    means["other"] = max(0.0, float(one.stage_ms("e2e").mean()) - sum(means.values()))
    return means


def stage_latency(data: Dataset) -> Drawn:
    """Figure 1: mean time per frame in each stage, stacked, one bar per configuration, 95% CI of the total."""
    parts = stage_parts(data.series)
    if not parts:
        raise Skip("no stage spans in the measured frames")
    means = [_stage_means(one, parts) for one in data.series]
    totals = [one.stage_ms("e2e") for one in data.series]
    if max(m["other"] / max(t.mean(), 1e-9) for m, t in zip(means, totals, strict=True)) >= MIN_OTHER_SHARE:
        parts = [*parts, "other"]
    n = len(data.series)
    figure, (axes,) = new_figure(SINGLE_IN, 0.9 + 0.28 * n)
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    for part in parts:
        widths = np.array([m[part] for m in means])
        axes.barh(y, widths, left=left, height=0.6, color=STAGE_COLORS.get(part, "#999999"), label=part, edgecolor="white", linewidth=0.3)
        left += widths
    cis = np.array([bootstrap_ci(t, "mean", frames=one.stage_frames("e2e")) for t, one in zip(totals, data.series, strict=True)])
    centres = np.array([t.mean() for t in totals])
    ci_bars(axes, centres, y, cis[:, 0], cis[:, 1])
    axes.set_yticks(y, [one.label for one in data.series])
    axes.set_xlabel("Mean time per frame (ms)")
    axes.set_ylabel("Configuration")
    axes.grid(axis="y", visible=False)
    axes.set_xlim(0, np.nanmax([*cis[:, 1], *left]) * 1.05)  # a CI is NaN with too few frames
    axes.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))  # a narrow axis still gets 3-5 ticks
    figure_legend(figure, *axes.get_legend_handles_labels(), SINGLE_IN)
    table = Table(
        f"Mean time per frame by stage (ms), end-to-end mean with 95% bootstrap CI{data.caption_note()}.",
        ["configuration", "n", "e2e mean", "95% CI", *parts],
    )
    for one, m, t, ci in zip(data.series, means, totals, cis, strict=True):
        table.rows.append([one.label, str(len(t)), fmt(t.mean()), fmt_ci(*ci), *(fmt(m[p], 2) for p in parts)])
    return Drawn("", "", figure, table, [one.label for one in data.series])


def latency_cdf(data: Dataset) -> Drawn:
    """Figure 2: empirical CDF of end-to-end latency per configuration, p50/p90/p99 marked."""
    samples = [np.sort(one.stage_ms("e2e")) for one in data.series]
    frames = [len(set(one.stage_frames("e2e"))) for one in data.series]  # with rounds, fewer than readings
    if not any(len(s) for s in samples):
        raise Skip("no measured frame has an end-to-end time")
    labels = [one.label for one in data.series]
    # A legend taller than the axes would dwarf them: span both columns instead.
    width = SINGLE_IN if legend_height_in(labels, SINGLE_IN) <= MAX_LEGEND_IN else DOUBLE_IN
    legend = legend_height_in(labels, width)
    figure, (axes,) = new_figure(width, 2.0 + legend)
    for index, (one, values, n) in enumerate(zip(data.series, samples, frames, strict=True)):
        fraction = np.arange(1, len(values) + 1) / len(values)
        axes.step(values, fraction, where="post", color=color(index), label=one.label, linestyle=["-", "--", ":", "-."][index // 8 % 4])
        for q, marker, _ in PERCENTILES:
            if not estimable(q, n):
                continue
            axes.plot(
                np.percentile(values, q),
                q / 100,
                marker=marker,
                color=color(index),
                markeredgecolor="black",
                markeredgewidth=0.5,
                linestyle="none",
                zorder=3,
            )
    figure_legend(figure, *axes.get_legend_handles_labels(), width)
    marked = [(m, name) for q, m, name in PERCENTILES if any(estimable(q, n) for n in frames)]
    handles = [axes.plot([], [], marker=m, color="white", markeredgecolor="black", linestyle="none")[0] for m, _ in marked]
    axes.legend(handles, [name for _, name in marked], loc="lower right", handletextpad=0.2, borderpad=0.2)  # empty in a CDF
    low, high = min(s[0] for s in samples if len(s)), max(s[-1] for s in samples if len(s))
    if low > 0 and high / low > LOG_SPAN:
        axes.set_xscale("log")
    axes.set_xlabel("End-to-end latency per frame (ms)")
    axes.set_ylabel("Fraction of frames")
    axes.set_ylim(0, 1.02)
    table = Table(
        f"End-to-end latency per frame (ms): percentiles, p50 with its 95% CI ({data.ci_methods()}){data.caption_note()}.",
        ["configuration", "n", "p50", "p50 95% CI", "p90", "p99", "mean"],
    )
    for one, values, n in zip(data.series, samples, frames, strict=True):
        row = one.row("e2e") or {}
        ci = (None, None) if is_missing(row.get("p50_ci_low_ms")) else (row["p50_ci_low_ms"], row["p50_ci_high_ms"])
        p50, p90, p99 = (float(np.percentile(values, q)) if estimable(q, n) else None for q, _, _ in PERCENTILES)
        table.rows.append([one.label, str(len(values)), fmt(p50), fmt_ci(*ci), fmt(p90), fmt(p99), fmt(values.mean())])
    short = [
        f"{name} not marked below {min_frames(q)} frames (it would be the slowest frame, not a percentile)"
        for q, _, name in PERCENTILES
        if any(0 < n < min_frames(q) for n in frames)
    ]
    return Drawn("", "", figure, table, [one.label for one in data.series], short)
