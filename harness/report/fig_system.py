"""System figures: local against offloaded placements, energy per frame by stage, devices side by side."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter

from harness.report.columns import (
    ACCURACY_METRICS,
    ENERGY_REASON,
    ENERGY_STATUS,
    GROSS,
    LOCAL_PLACEMENT,
    NET,
    NETWORK_NOTE,
    Placement,
    is_missing,
    placement_of,
)
from harness.report.dataset import Dataset, Series, environment_line, short_labels
from harness.report.energy import frame_energy_j, has_energy, stage_energy_j
from harness.report.export import Table, fmt, fmt_ci
from harness.report.fig_latency import STAGE_COLORS, stage_parts
from harness.report.figures import Drawn, Skip
from harness.report.stats import has_metric, metric_value
from harness.report.style import DOUBLE_IN, MARKERS, SINGLE_IN, ci_bars, color, figure_legend, new_figure

__all__ = ["devices", "energy_by_stage", "offload"]

NAN = float("nan")


def _bytes_per_frame(series: Series) -> tuple[float, float]:
    """Mean bytes sent and received per measured frame (frames.jsonl ``bytes_up`` / ``bytes_down``)."""
    up = [r.get("bytes_up") or 0 for r in series.records]
    down = [r.get("bytes_down") or 0 for r in series.records]
    return float(np.mean(up)), float(np.mean(down))


def _crossover(bandwidth: np.ndarray, offload_ms: np.ndarray, local_ms: float) -> float | None:
    """The bandwidth (Mbit/s) above which offloading is faster than local, interpolated on a log axis."""
    order = np.argsort(bandwidth)
    x, y = np.log(bandwidth[order]), offload_ms[order] - local_ms
    for i in range(len(x) - 1):
        if y[i] > 0 >= y[i + 1]:
            return float(np.exp(x[i] + (x[i + 1] - x[i]) * y[i] / (y[i] - y[i + 1])))
    return None


def _p50(series: Series | None) -> tuple[float, float, float]:
    """Median e2e latency and its 95% CI from the summary (NaN where absent)."""
    if series is None:
        return NAN, NAN, NAN
    row = series.row("e2e") or {}
    low, high = (NAN if is_missing(row.get(k)) else float(row[k]) for k in ("p50_ci_low_ms", "p50_ci_high_ms"))
    return float(np.median(series.stage_ms("e2e"))), low, high


def _bandwidth_panel(axes: Any, placed: list[tuple[Series, Placement]], notes: list[str]) -> None:
    """Median latency (95% CI) against shaped uplink bandwidth, one line per placement, local flat with its CI, crossovers marked."""
    local = [_p50(s) for s, p in placed if p.placement == LOCAL_PLACEMENT]
    if local:
        median, low, high = local[0]
        axes.axhline(median, color="black", linestyle="--", linewidth=0.8, label=LOCAL_PLACEMENT)
        if np.isfinite(low) and np.isfinite(high):
            axes.axhspan(low, high, color="black", alpha=0.08, linewidth=0)
    offloaded = list(dict.fromkeys(p.placement for _, p in placed if p.placement != LOCAL_PLACEMENT))
    for index, name in enumerate(offloaded):
        points = sorted((p.uplink_mbps, *_p50(s)) for s, p in placed if p.placement == name and p.uplink_mbps)
        if not points:
            notes.append(f"{name}: no shaped network, not in the bandwidth panel")
            continue
        bw, ms, low, high = np.array(points).T
        axes.plot(bw, ms, marker=MARKERS[index + 1], color=color(index + 1), label=name)
        ci_bars(axes, ms, bw, low, high, horizontal=False, color=color(index + 1))
        cross = _crossover(bw, ms, local[0][0]) if local and len(bw) > 1 else None
        if cross is not None:
            axes.axvline(cross, color=color(index + 1), linestyle=":", linewidth=0.8)
            axes.annotate(
                f"{cross:.1f} Mbit/s", (cross, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2), textcoords="offset points",
                ha="left", va="top", fontsize=7, color=color(index + 1),
            )  # fmt: skip
            notes.append(f"{name} is faster than local above {cross:.2f} Mbit/s uplink")
    unshaped = [f"{p.placement}@{p.network}" for _, p in placed if p.placement != LOCAL_PLACEMENT and not p.uplink_mbps]
    if unshaped:
        notes.append(f"unshaped (no bandwidth to plot; in the table): {', '.join(unshaped)}")
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axes.set_xlabel("Uplink bandwidth (Mbit/s)")
    axes.set_ylabel("Median end-to-end latency (ms)")
    axes.legend(loc="upper right")


def _placement_bars(axes: Any, placed: list[tuple[Series, Placement]], order: list[str]) -> None:
    """Median latency with its 95% CI per configuration, coloured by placement (no bandwidth sweep)."""
    stats = np.array([_p50(s) for s, _ in placed])
    x = np.arange(len(placed))
    axes.bar(x, stats[:, 0], color=[color(order.index(p.placement)) for _, p in placed], width=0.7)
    ci_bars(axes, stats[:, 0], x, stats[:, 1], stats[:, 2], horizontal=False)
    axes.set_xticks(x, [p.placement + (f"\n@{p.network}" if p.network else "") for _, p in placed])
    axes.set_xlabel("Placement and network")
    axes.set_ylabel("Median end-to-end latency (ms)")
    axes.grid(axis="x", visible=False)


def offload(data: Dataset) -> Drawn:
    """Figure 5: latency (and device energy) by placement and bandwidth; bytes per frame and what leaves the device."""
    placed = [(one, placement_of(one)) for one in data.series]
    if all(p.placement == LOCAL_PLACEMENT for _, p in placed):
        raise Skip("no offload placements in these runs (every configuration ran locally)")
    notes: list[str] = []
    order = list(dict.fromkeys(p.placement for _, p in placed))
    with_energy = any(has_energy(s) for s, _ in placed)
    figure, panels = new_figure(DOUBLE_IN, 2.5, ncols=3 if with_energy else 2)
    if any(p.uplink_mbps for _, p in placed):
        _bandwidth_panel(panels[0], placed, notes)
    else:
        _placement_bars(panels[0], placed, order)
        notes.append("no shaped networks (loopback only): no bandwidth axis and no crossover")
    said = sorted({str(n) for s, _ in placed if not is_missing(n := (s.row("e2e") or {}).get(NETWORK_NOTE))})
    if said:
        notes += said
        panels[0].set_title("; ".join(said), loc="left", fontsize=7)  # above the data: what the shaping could not apply
    privacy = {p.placement: p.privacy for _, p in placed}
    sent = {name: np.mean([_bytes_per_frame(s) for s, p in placed if p.placement == name], axis=0) / 1e3 for name in order}
    x = np.arange(len(order))
    panels[1].bar(x, [sent[n][0] for n in order], color=color(0), width=0.6, label="sent")
    panels[1].bar(x, [sent[n][1] for n in order], bottom=[sent[n][0] for n in order], color=color(1), width=0.6, label="received")
    for i, name in enumerate(order):  # the numbers: a 0.2 kB bar beside a 50 kB one is a line
        total = sent[name][0] + sent[name][1]
        panels[1].annotate(f"{total:.1f} kB", (i, total), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=7)
    panels[1].set_ylim(top=panels[1].get_ylim()[1] * 1.1)
    panels[1].set_xticks(x, [f"{n}\n({privacy[n]})" for n in order])
    panels[1].set_ylabel("Data on the wire per frame (kB)")
    panels[1].set_xlabel("Placement (privacy level)")
    panels[1].grid(axis="x", visible=False)
    panels[1].legend(loc="upper right")
    if with_energy:
        energy = [frame_energy_j(s)[0] for s, _ in placed]
        panels[2].bar(np.arange(len(placed)), energy, color=[color(order.index(p.placement)) for _, p in placed], width=0.7)
        panels[2].set_xticks(np.arange(len(placed)), [p.placement + (f"\n@{p.network}" if p.network else "") for _, p in placed])
        panels[2].set_ylabel("Device energy per frame (J)")
        panels[2].set_xlabel("Placement and network")
    table = Table(
        f"Placement, network, median end-to-end latency (95% CI), data on the wire per frame, privacy{data.caption_note()}.",
        ["configuration", "placement", "network", "p50 ms", "95% CI", "kB sent", "kB received", "privacy"],
        label_columns=3,
    )
    for one, p in placed:
        median, low, high = _p50(one)
        up, down = _bytes_per_frame(one)
        table.rows.append(
            [one.label, p.placement, p.network or "–", fmt(median), fmt_ci(low, high), fmt(up / 1e3), fmt(down / 1e3), p.privacy]
        )
    return Drawn("", "", figure, table, [one.label for one, _ in placed], notes)


def _energy_reason(data: Dataset) -> str:
    said = [
        f"{v.get(ENERGY_STATUS)}: {v.get(ENERGY_REASON)}" if v.get(ENERGY_REASON) else str(v.get(ENERGY_STATUS))
        for v in (run.manifest.get("validity", {}) for run in data.runs)
        if v.get(ENERGY_STATUS)
    ]
    if not said:
        return "no energy in these runs"
    return f"no energy in these runs (energy {said[0] if len(said[0]) <= 100 else said[0][:99] + '…'})"


def energy_by_stage(data: Dataset) -> Drawn:
    """Figure 6: energy per frame by stage, stacked, gross and net of the idle baseline, 95% CI of the total."""
    series = [one for one in data.series if has_energy(one)]
    if not series:
        raise Skip(_energy_reason(data))
    kinds = [(GROSS, "gross"), *([(NET, "net of idle")] if any(has_energy(one, NET) for one in series) else [])]
    parts = stage_parts(series)
    values = {key: [stage_energy_j(one, parts, key) for one in series] for key, _ in kinds}
    totals = {key: np.array([frame_energy_j(one, key) for one in series]) for key, _ in kinds}
    if any(v["other"] > 0.005 * t[0] for key, _ in kinds for v, t in zip(values[key], totals[key], strict=True)):
        parts = [*parts, "other"]
    top = np.nanmax([t[:, 2] if np.isfinite(t[:, 2]).any() else t[:, 0] for t in totals.values()])
    scale, unit = (1e3, "mJ") if top < 1.0 else (1.0, "J")
    n = len(series)
    figure, panels = new_figure(DOUBLE_IN if len(kinds) > 1 else SINGLE_IN, 0.9 + 0.28 * n, ncols=len(kinds), sharey=True)
    y = np.arange(n)[::-1]
    for axes, (key, name) in zip(panels, kinds, strict=True):
        left = np.zeros(n)
        for part in parts:
            widths = np.nan_to_num([v[part] for v in values[key]]) * scale
            axes.barh(
                y,
                widths,
                left=left,
                height=0.6,
                color=STAGE_COLORS.get(part, "#999999"),
                edgecolor="white",
                linewidth=0.3,
                label=part if axes is panels[0] else None,
            )
            left += widths
        ci_bars(axes, totals[key][:, 0] * scale, y, totals[key][:, 1] * scale, totals[key][:, 2] * scale)
        axes.set_xlabel(f"Energy per frame, {name} ({unit})")
        axes.grid(axis="y", visible=False)
    panels[0].set_yticks(y, [one.label for one in series])
    panels[0].set_ylabel("Configuration")
    figure_legend(figure, *panels[0].get_legend_handles_labels(), DOUBLE_IN if len(kinds) > 1 else SINGLE_IN)
    notes = [f"partial energy: no energy for {one.label}" for one in data.series if one not in series]
    if len(kinds) == 1:
        notes.append("no net energy (no idle baseline): gross only")
    table = Table(
        f"Energy per frame by stage ({unit}; total with 95% bootstrap CI){data.caption_note()}.",
        ["configuration", "kind", *parts, "total", "95% CI"],
        label_columns=2,
    )
    for i, one in enumerate(series):
        for key, name in kinds:
            total = totals[key][i] * scale
            table.rows.append(
                [one.label, name, *(fmt(values[key][i][p] * scale, 2) for p in parts), fmt(total[0], 2), fmt_ci(*total[1:], 2)]
            )
    return Drawn("", "", figure, table, [one.label for one in series], notes)


def devices(data: Dataset) -> Drawn:
    """Figure 7: the configurations run on several devices, side by side: median latency (and energy) per device."""
    if len(data.devices) < 2:
        raise Skip(f"runs from one device only ({', '.join(data.devices)}); give runs from several devices")
    by_config: dict[str, dict[str, Series]] = defaultdict(dict)
    for one in data.series:
        by_config[one.config_id].setdefault(one.device, one)
    shared = {c: d for c, d in by_config.items() if len(d) > 1}
    if not shared:
        raise Skip("no configuration ran on more than one of these devices")
    labels, _ = short_labels(list(shared))
    device_names = data.devices
    with_energy = any(has_energy(s) for d in shared.values() for s in d.values())
    figure, panels = new_figure(
        DOUBLE_IN if with_energy else SINGLE_IN, 0.9 + 0.3 * len(shared) * len(device_names) / 2, ncols=2 if with_energy else 1, sharey=True
    )
    y = np.arange(len(shared))[::-1]
    height = 0.8 / len(device_names)
    for k, device in enumerate(device_names):
        members = [d.get(device) for d in shared.values()]
        offset = (k - (len(device_names) - 1) / 2) * height
        ms = np.array([_p50(m) for m in members])
        panels[0].barh(y - offset, ms[:, 0], height=height * 0.9, color=color(k), label=device)
        ci_bars(panels[0], ms[:, 0], y - offset, ms[:, 1], ms[:, 2])
        if with_energy:
            energy = np.array([frame_energy_j(m) if m is not None else (NAN, NAN, NAN) for m in members])
            panels[1].barh(y - offset, energy[:, 0], height=height * 0.9, color=color(k))
    panels[0].set_yticks(y, labels)
    panels[0].set_xlabel("Median end-to-end latency (ms)")
    panels[0].set_ylabel("Configuration")
    if with_energy:
        panels[1].set_xlabel("Energy per frame (J)")
    for axes in panels:
        axes.grid(axis="y", visible=False)
    figure_legend(figure, *panels[0].get_legend_handles_labels(), DOUBLE_IN if with_energy else SINGLE_IN)
    table = Table(
        "Median end-to-end latency per device (ms, with summary.csv's 95% CI: order statistics, or a bootstrap over frames "
        "with rounds), energy per frame (J) and the accuracy each measured, with each device's CPU, cores and instruction set.",
        ["configuration", "device", "environment", "p50 ms", "95% CI", "p90 ms", "energy J", "accuracy"],
        label_columns=3,
    )
    series_shown = []
    for label, members in zip(labels, shared.values(), strict=True):
        for device, one in members.items():
            row = one.row("e2e") or {}
            table.rows.append(
                [
                    label,
                    device,
                    environment_line(one.run, short=True),
                    fmt(row.get("p50_ms")),
                    fmt_ci(row.get("p50_ci_low_ms"), row.get("p50_ci_high_ms")),
                    fmt(row.get("p90_ms")),
                    fmt(frame_energy_j(one)[0], 3),
                    _accuracy_text(one),
                ]
            )
            series_shown.append(one.label)
    notes = [f"on one device only: {one.label}" for one in data.series if one.label not in series_shown]
    runs = {one.device: one.run for one in data.series}
    notes += [f"{device}: {environment_line(run)}" for device, run in runs.items()]
    return Drawn("", "", figure, table, series_shown, notes)


def _accuracy_text(one: Series) -> str:
    """The accuracy figures a configuration measured, e.g. "chrF 52.1, e2e hmean 0.81" ("-" where none)."""
    frames = one.accuracy()
    shown = [f"{m.short} {fmt(metric_value(frames, m), 3)}" for m in ACCURACY_METRICS if has_metric(frames, m)]
    return ", ".join(shown) or "-"
