"""Tradeoff figures: Pareto fronts of accuracy against cost, and quantized against full-precision models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from harness.report.columns import ACCURACY_METRICS, STAGE_METRICS, AccuracyMetric, is_missing
from harness.report.dataset import Dataset, Series
from harness.report.energy import energy_frames, frame_energies, frame_energy_j
from harness.report.export import Table, fmt, fmt_ci
from harness.report.figures import Drawn, Skip
from harness.report.pairs import Pair, precision_pairs
from harness.report.stats import difference_ci, has_metric, metric_ci, metric_value, paired_difference_ci, ratio_of_medians_ci
from harness.report.style import DOUBLE_IN, SINGLE_IN, ci_bars, color, figure_legend, legend_height_in, marker, new_figure, new_grid

__all__ = ["choose_metric", "pareto", "pareto_front", "quantization", "undominated_beyond_ci"]

NAN = float("nan")
SPEEDUP_TICKS = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0, 32.0)
UNITS = {"latency": "p50 ms", "energy": "energy J", "model size": "model MB"}  # the cost columns of the Pareto table


def choose_metric(series: Sequence[Series]) -> tuple[AccuracyMetric, list[Series]]:
    """The preferred accuracy metric that the most configurations have, and the configurations that have it."""
    best: tuple[AccuracyMetric, list[Series]] | None = None
    for metric in ACCURACY_METRICS:
        having = [one for one in series if has_metric(one.accuracy(), metric)]
        if having and (best is None or len(having) > len(best[1])):
            best = (metric, having)
    if best is None:
        raise Skip("no accuracy scores in the measured frames (their sources have no ground truth)")
    return best


def pareto_front(x: Sequence[float], y: Sequence[float], higher_is_better: bool = True) -> list[int]:
    """Indices of points no other point beats on both cost ``x`` (lower is better) and accuracy ``y``."""
    sign = 1.0 if higher_is_better else -1.0
    points = [(xi, sign * yi) for xi, yi in zip(x, y, strict=True)]
    return [
        i
        for i, (xi, yi) in enumerate(points)
        if np.isfinite(xi)
        and np.isfinite(yi)
        and not any(xj <= xi and yj >= yi and (xj < xi or yj > yi) for j, (xj, yj) in enumerate(points) if j != i and np.isfinite(xj))
    ]


def undominated_beyond_ci(
    x: Sequence[float],
    x_ci: Sequence[tuple[float, float]],
    y: Sequence[float],
    y_ci: Sequence[tuple[float, float]],
    higher_is_better: bool = True,
) -> list[int]:
    """Indices of points that no other point beats beyond the 95% CIs.

    ``j`` beats ``i`` when it is no worse on both axes as measured, better than ``i`` beyond both CIs on one
    axis (its interval entirely on the better side of ``i``'s) and not worse beyond the CIs on the other. A
    point whose CIs are unknown (NaN) can neither be separated nor separate: noise is never a front.
    """
    sign = 1.0 if higher_is_better else -1.0

    def better_cost(j: int, i: int) -> bool:  # j's whole cost interval below i's
        return bool(x_ci[j][1] < x_ci[i][0])

    def better_accuracy(j: int, i: int) -> bool:  # j's whole accuracy interval on the better side of i's
        return bool(y_ci[j][0] > y_ci[i][1]) if sign > 0 else bool(y_ci[j][1] < y_ci[i][0])

    def beats(j: int, i: int) -> bool:
        no_worse = x[j] <= x[i] and sign * y[j] >= sign * y[i]
        separated = (better_cost(j, i) and not better_accuracy(i, j)) or (better_accuracy(j, i) and not better_cost(i, j))
        return no_worse and separated

    points = range(len(x))
    return [i for i in points if np.isfinite(x[i]) and np.isfinite(y[i]) and not any(beats(j, i) for j in points if j != i)]


@dataclass
class _Axis:
    """One cost axis of the Pareto figure: values (and CI) per configuration."""

    name: str
    label: str
    values: list[float]
    low: list[float]
    high: list[float]


def _cost_axes(series: Sequence[Series]) -> tuple[list[_Axis], list[str]]:
    """Latency always; energy per frame and model size where the runs have them (else a note why not)."""
    rows = [one.row("e2e") or {} for one in series]
    p50 = [float(r.get("p50_ms", NAN)) for r in rows]
    axes = [
        _Axis(
            "latency",
            "Median end-to-end latency (ms)",
            p50,
            [float(r.get("p50_ci_low_ms", NAN)) for r in rows],
            [float(r.get("p50_ci_high_ms", NAN)) for r in rows],
        )
    ]
    notes = []
    energy = [frame_energy_j(one) for one in series]
    if any(np.isfinite(e) for e, _, _ in energy):
        axes.append(_Axis("energy", "Energy per frame (J)", *(list(v) for v in zip(*energy, strict=True))))
    else:
        notes.append("accuracy vs energy: no energy columns in these runs")
    size = [NAN if is_missing(r.get("model_mb")) else float(r["model_mb"]) for r in rows]
    known = {round(s, 2) for s in size if np.isfinite(s) and s > 0}
    if len(known) > 1:
        axes.append(_Axis("model size", "Model files on disk (MB)", size, size, size))
    elif known:
        notes.append(f"accuracy vs model size: every configuration loads the same model files ({known.pop():.1f} MB)")
    else:
        notes.append("accuracy vs model size: no model_mb in these runs")
    return axes, notes


def _group(one: Series) -> str:
    """Fronts are drawn per workload: configurations on the same source (and device) compete."""
    return one.config_id.split("/")[0]


def _rows_by_source(series: Sequence[Series]) -> tuple[list[tuple[str, AccuracyMetric, list[Series]]], list[str]]:
    """One row per source, scored by the metric that source supports best (chrF where it has references).

    Sources differ in ground truth: synthetic signs carry reference translations, IC15 photos only words.
    One metric for all would score translators by their OCR (the same for Apertium and an NMT model).
    """
    rows, notes = [], []
    for group in dict.fromkeys(_group(one) for one in series):
        members = [one for one in series if _group(one) == group]
        try:
            metric, having = choose_metric(members)
        except Skip:
            notes += [f"no accuracy scores (no ground truth): {one.label}" for one in members]
            continue
        rows.append((group, metric, having))
        notes += [f"no {metric.column}: {one.label}" for one in members if one not in having]
    if not rows:
        raise Skip("no accuracy scores in the measured frames (their sources have no ground truth)")
    return rows, notes


def pareto(data: Dataset) -> Drawn:
    """Figure 3: per source, accuracy against latency, energy per frame and model size; each source's front highlighted."""
    rows, notes = _rows_by_source(data.series)
    series = [one for _, _, having in rows for one in having]
    metrics = [metric for _, metric, having in rows for _ in having]
    accuracy = [metric_value(one.accuracy(), m) for one, m in zip(series, metrics, strict=True)]
    acc_ci = np.array([metric_ci(one.accuracy(), m) for one, m in zip(series, metrics, strict=True)])
    costs, cost_notes = _cost_axes(series)
    notes += cost_notes
    width = SINGLE_IN if len(costs) == 1 else DOUBLE_IN
    labels = [one.label for one in series]
    competing = any(len(having) > 1 for _, _, having in rows)
    legend = legend_height_in([*labels, *(["on the front", "dominated"] if competing else [])], width)
    figure, grid = new_grid(width, 2.0 * len(rows) + legend, len(rows), len(costs), sharex="col")
    fronts: dict[str, set[int]] = {c.name: set() for c in costs}
    start = 0
    for panels, (group, metric, having) in zip(grid, rows, strict=True):
        members = list(range(start, start + len(having)))
        start += len(having)
        for axes, cost in zip(panels, costs, strict=True):
            measured = [
                members[k] for k in pareto_front([cost.values[i] for i in members], [accuracy[i] for i in members], metric.higher_is_better)
            ]
            best = [
                members[k]
                for k in undominated_beyond_ci(
                    [cost.values[i] for i in members],
                    [(cost.low[i], cost.high[i]) for i in members],
                    [accuracy[i] for i in members],
                    [(acc_ci[i, 0], acc_ci[i, 1]) for i in members],
                    metric.higher_is_better,
                )
            ]
            fronts[cost.name].update(best)
            if len(best) > len(measured):  # the measured front is not separated from the rest beyond the CIs
                names = ", ".join(labels[i] for i in best)
                notes.append(f"{group}, {cost.name}: no front beyond the CIs; indistinguishable: {names}")
            elif len(members) > 1 and len(best) > 1:
                order = sorted(best, key=lambda i: cost.values[i])
                axes.plot(
                    [cost.values[i] for i in order], [accuracy[i] for i in order], color="black", linewidth=0.8, linestyle="--", zorder=1
                )
            for i in members:
                axes.plot(
                    cost.values[i],
                    accuracy[i],
                    marker=marker(i),
                    color=color(i),
                    markerfacecolor=color(i) if i in best or len(members) == 1 else "white",
                    linestyle="none",
                    zorder=4,
                )
                ci_bars(axes, [cost.values[i]], [accuracy[i]], [cost.low[i]], [cost.high[i]], color=color(i))
                ci_bars(axes, [accuracy[i]], [cost.values[i]], [acc_ci[i, 0]], [acc_ci[i, 1]], horizontal=False, color=color(i))
            if cost.name != "latency":
                axes.set_xlim(left=0)  # sizes and energies compare as ratios
        panels[0].set_ylabel(metric.label)
        if len(rows) > 1:
            panels[0].set_title(group, loc="left", fontsize=8)
    for axes, cost in zip(grid[-1], costs, strict=True):
        axes.set_xlabel(cost.label)
    _pareto_legend(figure, labels, width, competing)
    if competing:
        notes.append(
            "filled markers: no configuration of their source beats them beyond the 95% CIs (better beyond the CIs on one axis,"
            " no worse on the other); the dashed front is drawn only where it is that separated"
        )
    else:
        notes.append("one configuration per source: no front (fronts compare configurations on the same source)")
    methods = data.ci_methods()
    latency = f"{methods} of the median" if methods == "order statistics" else f"median, {methods}"
    notes.append(f"error bars: 95% CIs (latency: {latency}; accuracy: bootstrap over frames)")
    caption = "; ".join(f"{group}: {metric.label}" for group, metric, _ in rows)
    table = Table(
        f"Accuracy per source ({caption}; 95% bootstrap CI over frames) against cost{data.caption_note()}.",
        ["configuration", "metric", "accuracy", "95% CI", *(UNITS[c.name] for c in costs), *(["on the front of"] if competing else [])],
    )
    for i, one in enumerate(series):
        on = [", ".join(name for name, f in fronts.items() if i in f) or "–"] if competing else []
        row = [one.label, metrics[i].column, fmt(accuracy[i], 3), fmt_ci(*acc_ci[i], 3), *(fmt(c.values[i], 2) for c in costs), *on]
        table.rows.append(row)
    return Drawn("", "", figure, table, labels, notes)


def _pareto_legend(figure: Any, labels: list[str], width_in: float, fronts: bool) -> None:
    """One filled marker per configuration, then (where fronts exist) what filled and hollow mean; proxies, no data."""
    handles = [Line2D([], [], marker=marker(i), color=color(i), linestyle="none") for i in range(len(labels))]
    if fronts:
        handles += [
            Line2D([], [], marker="o", color="black", linestyle="none"),
            Line2D([], [], marker="o", color="black", markerfacecolor="white", linestyle="none"),
        ]
        labels = [*labels, "on the front", "dominated"]
    figure_legend(figure, handles, labels, width_in)


@dataclass(frozen=True)
class _AccuracyChange:
    """What quantizing did to accuracy: in points on a 0–100 scale, positive = better, with its 95% CI."""

    metric: AccuracyMetric | None
    points: tuple[float, float, float]
    frames: int  # frames scored on both sides (paired) or in all (unpaired)
    paired: bool
    reason: str = ""  # why there is no change to show


def _accuracy_changes(pair: Pair) -> list[_AccuracyChange]:
    """The pair's accuracy change in every metric of its stage both sides have, paired by frame where possible.

    Frames measured by both configurations (same source and frame id) are compared with themselves, so the
    CI reflects the quantization, not which photos each configuration happened to reach in its time.
    """
    full, quant = pair.full.accuracy_by_frame(), pair.quant.accuracy_by_frame()
    common = sorted(full.keys() & quant.keys())
    both = ([full[k] for k in common], [quant[k] for k in common]) if len(common) >= 2 else ([], [])
    changes = []
    for column in STAGE_METRICS.get(pair.stage, ()):
        metric = next(m for m in ACCURACY_METRICS if m.column == column)
        paired = has_metric(both[0], metric) and has_metric(both[1], metric)
        a, b = both if paired else (pair.full.accuracy(), pair.quant.accuracy())  # unpaired only when no shared frame has it
        if not (has_metric(a, metric) and has_metric(b, metric)):
            continue
        scale = metric.points * (1.0 if metric.higher_is_better else -1.0)

        def score(frames: Sequence[dict[str, Any]], metric: AccuracyMetric = metric) -> float:
            return metric_value(frames, metric)

        low, high = paired_difference_ci(a, b, score) if paired else difference_ci(a, b, score)
        ends = sorted((low * scale, high * scale))
        changes.append(_AccuracyChange(metric, ((score(b) - score(a)) * scale, *ends), len(a), paired))
    return changes


def _accuracy_change(pair: Pair) -> _AccuracyChange:
    """The change in the first metric of the pair's stage both sides have (the panel's), or why there is none."""
    changes = _accuracy_changes(pair)
    if changes:
        return changes[0]
    missing = "reference translation" if pair.stage == "mt" else "ground truth"
    return _AccuracyChange(None, (NAN, NAN, NAN), 0, False, f"no {missing}")


def _beyond_ci(changes: list[_AccuracyChange]) -> str:
    """The metrics (after the panel's first) whose change excludes zero from its 95% CI, as "WER -1.20 (-2.0 … -0.4)"."""
    moved = [c for c in changes[1:] if c.metric is not None and (c.points[1] > 0 or c.points[2] < 0)]
    return "; ".join(f"{c.metric.short} {c.points[0]:+.2f} ({fmt_ci(*c.points[1:], 2)})" for c in moved if c.metric) or "–"


def _pair_numbers(pair: Pair) -> dict[str, tuple[float, float, float]]:
    """Speed-ups (end to end and the quantized stage) and energy saving, each with its CI."""
    numbers = {}
    for stage in ("e2e", pair.stage):
        full, quant = pair.full.stage_ms(stage), pair.quant.stage_ms(stage)
        low, high = ratio_of_medians_ci(quant, full, frames=(pair.quant.stage_frames(stage), pair.full.stage_frames(stage)))
        numbers[stage] = (float(np.median(full) / np.median(quant)), low, high)
    (e_full, _, _), (e_quant, _, _) = frame_energy_j(pair.full), frame_energy_j(pair.quant)
    energy_frames_of = (energy_frames(pair.full), energy_frames(pair.quant))
    low, high = ratio_of_medians_ci(frame_energies(pair.full), frame_energies(pair.quant), statistic="mean", frames=energy_frames_of)
    numbers["energy"] = (100.0 * (1.0 - e_quant / e_full), 100.0 * (1.0 - high), 100.0 * (1.0 - low)) if e_full > 0 else (NAN, NAN, NAN)
    return numbers


def quantization(data: Dataset) -> Drawn:
    """Figure 4: per quantized model, speed-up over its full-precision twin, energy saving, accuracy change (95% CIs)."""
    pairs = precision_pairs(data.series)
    if not pairs:
        raise Skip("no configurations that differ only in precision (e.g. OCR precision fp32 and int8 on the same source)")
    numbers = [_pair_numbers(p) for p in pairs]
    every = [_accuracy_changes(p) for p in pairs]
    changes = [_accuracy_change(p) for p in pairs]
    panels_wanted = ["speed-up"]
    if any(np.isfinite(n["energy"][0]) for n in numbers):
        panels_wanted.append("energy")
    if any(c.metric is not None for c in changes):
        panels_wanted.append("accuracy")
    width = DOUBLE_IN if len(panels_wanted) > 1 else SINGLE_IN
    figure, panels = new_figure(width, max(1.7, 1.0 + 0.35 * len(pairs)), ncols=len(panels_wanted), sharey=True)
    y = np.arange(len(pairs))[::-1]
    for axes, kind in zip(panels, panels_wanted, strict=True):
        if kind == "speed-up":
            _speedup_panel(axes, [[n["e2e"] for n in numbers], [n[p.stage] for n, p in zip(numbers, pairs, strict=True)]], y)
        elif kind == "energy":
            _change_panel(axes, [n["energy"] for n in numbers], ["" for _ in pairs], y, "Energy saved per frame (%)")
        else:
            labels = [c.metric.short if c.metric else c.reason for c in changes]
            _change_panel(axes, [c.points for c in changes], labels, y, "Accuracy change (points, + better)")
    panels[0].set_yticks(y, [p.label for p in pairs])
    panels[0].set_ylabel("Model pair")
    figure_legend(figure, *panels[0].get_legend_handles_labels(), width)
    table = Table(
        "Quantized against full precision: speed-up of median latency (full ÷ quantized, 95% bootstrap CI), energy saved "
        "per frame, and the change in the quantized stage's accuracy metric (quantized − full, in points of 100, positive "
        "= better; 95% bootstrap CI over the frames both measured), then every other metric of the stage whose change "
        "lies beyond its 95% CI (points, + better).",
        ["quantized", "full", "e2e speed-up", "95% CI", "stage", "stage speed-up", "95% CI", "energy saved %", "metric", "frames",
         "Δ points", "95% CI", "other changes beyond the CI"],
        label_columns=2,
    )  # fmt: skip
    for p, n, c, all_changes in zip(pairs, numbers, changes, every, strict=True):
        table.rows.append(
            [
                p.quant.label,
                p.full.label,
                fmt(n["e2e"][0], 2),
                fmt_ci(*n["e2e"][1:], 2),
                p.stage,
                fmt(n[p.stage][0], 2),
                fmt_ci(*n[p.stage][1:], 2),
                fmt(n["energy"][0]),
                c.metric.column if c.metric else "–",
                f"{c.frames}{'' if c.paired else ' (unpaired)'}" if c.metric else "–",
                fmt(c.points[0], 2),
                fmt_ci(*c.points[1:], 2),
                _beyond_ci(all_changes),
            ]
        )
    notes = [f"{p.label}: {c.reason}" for p, c in zip(pairs, changes, strict=True) if c.reason]
    notes += [f"{p.label}: also beyond the CI: {_beyond_ci(e)}" for p, e in zip(pairs, every, strict=True) if _beyond_ci(e) != "–"]
    if len(panels_wanted) == 1:
        notes.append("no energy or accuracy data: speed-up only")
    return Drawn("", "", figure, table, [s.label for p in pairs for s in (p.quant, p.full)], notes)


def _speedup_panel(axes: Any, series: list[list[tuple[float, float, float]]], y: np.ndarray) -> None:
    """Speed-ups as bars from 1× on a log axis (2× and 0.5× equally far), end to end and the quantized stage, each labelled."""
    height = 0.7 / len(series)
    for index, triples in enumerate(series):
        values = np.array(triples, dtype=float)
        at = y + (index - (len(series) - 1) / 2) * -height
        label = ("end to end", "quantized stage")[index]
        axes.barh(at, values[:, 0] - 1.0, left=1.0, height=height * 0.9, color=color(index), label=label)
        ci_bars(axes, values[:, 0], at, values[:, 1], values[:, 2])
        for value, high, row in zip(values[:, 0], values[:, 2], at, strict=True):
            if np.isfinite(value):  # the number beside the bar: a 1.01× bar is too short to read
                end = max(value, high) if np.isfinite(high) else value
                axes.text(end * 1.04, row, f"{value:.2f}×", va="center", ha="left", fontsize=7)
    axes.set_xscale("log")
    low, high = axes.get_xlim()
    low, high = min(low, 0.8), max(high, 1.25) * 1.5  # room for the labels
    axes.set_xlim(low, high)
    axes.xaxis.set_major_locator(FixedLocator([t for t in SPEEDUP_TICKS if low <= t <= high]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.axvline(1.0, color="black", linewidth=0.6)
    axes.set_xlabel("Speed-up of median latency (×, log)")
    axes.grid(axis="y", visible=False)


def _change_panel(axes: Any, triples: list[tuple[float, float, float]], labels: list[str], y: np.ndarray, xlabel: str) -> None:
    """Changes as dots from 0 with 95% CIs, each row named (the metric, or why it has none)."""
    values = np.array(triples, dtype=float)
    known = np.isfinite(values[:, 0])
    axes.plot(values[known, 0], y[known], "o", color="black")
    ci_bars(axes, values[:, 0], y, values[:, 1], values[:, 2])
    axes.axvline(0.0, color="black", linewidth=0.6)
    for value, label, row in zip(values[:, 0], labels, y, strict=True):
        if label and np.isfinite(value):
            axes.annotate(label, (value, row), xytext=(4, 4), textcoords="offset points", ha="left", va="bottom", fontsize=7)
        elif label:  # no dot: say why, inside the panel
            axes.text(0.5, row, f"n/a: {label}", transform=axes.get_yaxis_transform(), ha="center", va="center", fontsize=7)
    axes.set_xlabel(xlabel)
    axes.grid(axis="y", visible=False)
