"""Tradeoff figures: Pareto fronts of accuracy against cost, and quantized against full-precision models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.lines import Line2D

from harness.report.columns import ACCURACY_METRICS, AccuracyMetric, is_missing
from harness.report.dataset import Dataset, Series
from harness.report.energy import frame_energies, frame_energy_j
from harness.report.export import Table, fmt, fmt_ci
from harness.report.figures import Drawn, Skip
from harness.report.pairs import Pair, precision_pairs
from harness.report.stats import difference_ci, has_metric, metric_ci, metric_value, ratio_of_medians_ci
from harness.report.style import DOUBLE_IN, SINGLE_IN, ci_bars, color, figure_legend, marker, new_figure

__all__ = ["choose_metric", "pareto", "pareto_front", "quantization"]

NAN = float("nan")
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


def pareto(data: Dataset) -> Drawn:
    """Figure 3: accuracy against latency, energy per frame and model size; each source's front highlighted."""
    metric, series = choose_metric(data.series)
    accuracy = [metric_value(one.accuracy(), metric) for one in series]
    acc_ci = np.array([metric_ci(one.accuracy(), metric) for one in series])
    costs, notes = _cost_axes(series)
    figure, panels = new_figure(SINGLE_IN if len(costs) == 1 else DOUBLE_IN, 2.4, ncols=len(costs), sharey=True)
    fronts: dict[str, set[int]] = {}
    for axes, cost in zip(panels, costs, strict=True):
        front: set[int] = set()
        for group in dict.fromkeys(_group(one) for one in series):
            members = [i for i, one in enumerate(series) if _group(one) == group]
            best = [
                members[k] for k in pareto_front([cost.values[i] for i in members], [accuracy[i] for i in members], metric.higher_is_better)
            ]
            front.update(best)
            if len(members) > 1 and len(best) > 1:
                order = sorted(best, key=lambda i: cost.values[i])
                axes.plot(
                    [cost.values[i] for i in order], [accuracy[i] for i in order], color="black", linewidth=0.8, linestyle="--", zorder=1
                )
        fronts[cost.name] = front
        for i in range(len(series)):
            axes.plot(
                cost.values[i],
                accuracy[i],
                marker=marker(i),
                color=color(i),
                markerfacecolor=color(i) if i in front else "white",
                linestyle="none",
                zorder=4,
            )
            ci_bars(axes, [cost.values[i]], [accuracy[i]], [cost.low[i]], [cost.high[i]], color=color(i))
            ci_bars(axes, [accuracy[i]], [cost.values[i]], [acc_ci[i, 0]], [acc_ci[i, 1]], horizontal=False, color=color(i))
        axes.set_xlabel(cost.label)
        if cost.name != "latency":
            axes.set_xlim(left=0)  # sizes and energies compare as ratios
    panels[0].set_ylabel(metric.label)
    competing = len({_group(one) for one in series}) < len(series)
    _pareto_legend(figure, [one.label for one in series], SINGLE_IN if len(costs) == 1 else DOUBLE_IN, competing)
    if competing:
        notes.append("filled markers: on the Pareto front of their source (configurations on the same source compete)")
    else:
        notes.append("one configuration per source: no front (fronts compare configurations on the same source)")
    notes.append("error bars: 95% CIs (latency: order statistics of the median; accuracy: bootstrap over frames)")
    notes += [f"no {metric.column}: {one.label}" for one in data.series if one not in series]
    table = Table(
        f"{metric.label} (95% bootstrap CI over frames) against cost{data.caption_note()}.",
        ["configuration", metric.column, "95% CI", *(UNITS[c.name] for c in costs), *(["on the front of"] if competing else [])],
    )
    for i, one in enumerate(series):
        on = [", ".join(name for name, f in fronts.items() if i in f) or "–"] if competing else []
        table.rows.append([one.label, fmt(accuracy[i], 3), fmt_ci(*acc_ci[i], 3), *(fmt(c.values[i], 2) for c in costs), *on])
    return Drawn("", "", figure, table, [one.label for one in series], notes)


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


def _pair_numbers(pair: Pair, metric: AccuracyMetric | None) -> dict[str, tuple[float, float, float]]:
    """Speed-ups (end to end and the quantized stage), energy saving and accuracy change, each with its CI."""
    numbers = {}
    for stage in ("e2e", pair.stage):
        full, quant = pair.full.stage_ms(stage), pair.quant.stage_ms(stage)
        low, high = ratio_of_medians_ci(quant, full)
        numbers[stage] = (float(np.median(full) / np.median(quant)), low, high)
    (e_full, _, _), (e_quant, _, _) = frame_energy_j(pair.full), frame_energy_j(pair.quant)
    low, high = ratio_of_medians_ci(frame_energies(pair.full), frame_energies(pair.quant), statistic="mean")
    numbers["energy"] = (100.0 * (1.0 - e_quant / e_full), 100.0 * (1.0 - high), 100.0 * (1.0 - low)) if e_full > 0 else (NAN, NAN, NAN)
    if metric is not None:
        a, b = pair.full.accuracy(), pair.quant.accuracy()
        delta = metric_value(b, metric) - metric_value(a, metric)
        numbers["accuracy"] = (delta, *difference_ci(a, b, lambda fs: metric_value(fs, metric)))
    return numbers


def quantization(data: Dataset) -> Drawn:
    """Figure 4: per quantized model, speed-up over its full-precision twin, energy saving, accuracy change (95% CIs)."""
    pairs = precision_pairs(data.series)
    if not pairs:
        raise Skip("no configurations that differ only in precision (e.g. OCR precision fp32 and int8 on the same source)")
    try:
        metric: AccuracyMetric | None = choose_metric([s for p in pairs for s in (p.full, p.quant)])[0]
    except Skip:
        metric = None
    numbers = [_pair_numbers(p, metric) for p in pairs]
    panels_wanted = [("speed-up", "Speed-up of median latency (×)", 1.0)]
    if any(np.isfinite(n["energy"][0]) for n in numbers):
        panels_wanted.append(("energy", "Energy saved per frame (%)", 0.0))
    if metric is not None:
        panels_wanted.append(("accuracy", f"Change in {_short(metric)}", 0.0))
    figure, panels = new_figure(
        DOUBLE_IN if len(panels_wanted) > 1 else SINGLE_IN, max(1.7, 1.0 + 0.35 * len(pairs)), ncols=len(panels_wanted), sharey=True
    )
    y = np.arange(len(pairs))[::-1]
    for axes, (kind, label, reference) in zip(panels, panels_wanted, strict=True):
        _quant_panel(
            axes,
            kind,
            reference,
            [
                [n[p.stage] if key == "stage" else n[key] for n, p in zip(numbers, pairs, strict=True)]
                for key in (("e2e", "stage") if kind == "speed-up" else (kind,))
            ],
            y,
        )
        axes.set_xlabel(label)
    panels[0].set_yticks(y, [p.label for p in pairs])
    panels[0].set_ylabel("Model pair")
    figure_legend(figure, *panels[0].get_legend_handles_labels(), DOUBLE_IN if len(panels_wanted) > 1 else SINGLE_IN)
    table = Table(
        "Quantized against full precision: speed-up of median latency (full ÷ quantized, 95% bootstrap CI), "
        f"energy saved per frame, change in accuracy{'' if metric is None else f' ({metric.column}, quantized − full, 95% bootstrap CI)'}.",
        ["quantized", "full", "e2e speed-up", "95% CI", "stage", "stage speed-up", "95% CI", "energy saved %", "Δ accuracy", "95% CI"],
        label_columns=2,
    )
    for p, n in zip(pairs, numbers, strict=True):
        acc = n.get("accuracy", (NAN, NAN, NAN))
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
                fmt(acc[0], 3),
                fmt_ci(*acc[1:], 3),
            ]
        )
    notes = [] if len(panels_wanted) > 1 or metric else ["no energy or accuracy data: speed-up only"]
    return Drawn("", "", figure, table, [s.label for p in pairs for s in (p.quant, p.full)], notes)


def _quant_panel(axes: Any, kind: str, reference: float, series: list[list[tuple[float, float, float]]], y: np.ndarray) -> None:
    """Speed-ups as bars from 1× (end to end, and the quantized stage); other changes as dots from 0, with 95% CIs."""
    height = 0.7 / len(series)
    for index, triples in enumerate(series):
        values = np.array(triples, dtype=float)
        at = y + (index - (len(series) - 1) / 2) * -height
        if kind == "speed-up":
            axes.barh(
                at,
                values[:, 0] - reference,
                left=reference,
                height=height * 0.9,
                color=color(index),
                label=("end to end", "quantized stage")[index],
            )
        else:
            axes.plot(values[:, 0], at, "o", color="black")
        ci_bars(axes, values[:, 0], at, values[:, 1], values[:, 2])
    axes.axvline(reference, color="black", linewidth=0.6)
    axes.grid(axis="y", visible=False)


def _short(metric: AccuracyMetric) -> str:
    return metric.label[0].lower() + metric.label[1:]
