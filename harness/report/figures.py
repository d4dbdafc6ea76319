"""Paper figures from stored runs: one function per figure, each drawn or skipped with a one-line reason.

A figure function takes a Dataset and returns a Drawn (the matplotlib Figure, its numbers as a Table,
notes, and the labels of the configurations it shows) or raises Skip. ``write_figures`` saves each as
PDF + PNG with its table as .tex and .md beside it. Figures only read the store; nothing here runs a
benchmark.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from harness.errors import ArbenchError, DataMissing, UserError
from harness.report.dataset import Dataset
from harness.report.export import Table
from harness.report.style import paper_style, save_figure
from harness.store.reader import Run, load_run

__all__ = ["FIGURES", "Drawn", "Skip", "Skipped", "draw_all", "figures_command", "latest_run", "write_figures"]


class Skip(ArbenchError):
    """A figure whose data the runs do not have; the message is the one-line reason."""


@dataclass
class Drawn:
    """A drawn figure: ``series`` are the configuration labels it shows, ``notes`` what the caption should say."""

    name: str
    title: str
    figure: Figure
    table: Table
    series: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """A figure not drawn, and why."""

    name: str
    title: str
    reason: str


FigureFunction = Callable[[Dataset], Drawn]


# (name = function name, title, module): the paper's order; modules are imported when drawing.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("stage_latency", "Where the time goes: latency per stage", "fig_latency"),
    ("latency_cdf", "End-to-end latency distribution", "fig_latency"),
    ("pareto", "Accuracy against latency, energy and model size", "fig_tradeoffs"),
    ("quantization", "Quantized against full precision", "fig_tradeoffs"),
    ("offload", "Local against offloaded placements", "fig_system"),
    ("energy_by_stage", "Energy per frame by stage", "fig_system"),
    ("devices", "Devices side by side", "fig_system"),
)


def _function(name: str, module: str) -> FigureFunction:
    return getattr(importlib.import_module(f"harness.report.{module}"), name)


def draw_all(runs: Sequence[Run], only: Sequence[str] = ()) -> list[Drawn | Skipped]:
    """Every figure (or those named in ``only``) for ``runs``, each drawn or skipped, in the paper's order."""
    dataset = Dataset.from_runs(runs)
    if not dataset.series:
        raise UserError("no configuration in these runs has a measured frame; nothing to plot (see their manifest.json for why)")
    results: list[Drawn | Skipped] = []
    with paper_style():
        for name, title, module in FIGURES:
            if only and name not in only:
                continue
            try:
                drawn = _function(name, module)(dataset)
            except Skip as skip:
                results.append(Skipped(name, title, str(skip)))
                continue
            drawn.name, drawn.title = name, title
            drawn.notes += [f"left out: {why}" for why in dataset.left_out]
            drawn.notes += [
                f"{label}: fewer than 6 measured frames, no 95% CI of the median" for label in dataset.few_frames() if label in drawn.series
            ]
            results.append(drawn)
    return results


def write_figures(results: Sequence[Drawn | Skipped], out_dir: Path) -> list[str]:
    """Save drawn figures (PDF, PNG) and their tables (.tex, .md) in ``out_dir``; one line per figure."""
    lines = []
    for result in results:
        if isinstance(result, Skipped):
            lines.append(f"skipped {result.name}: {result.reason}")
            continue
        save_figure(result.figure, out_dir, result.name)
        (out_dir / f"{result.name}.tex").write_text(result.table.to_latex(result.name), encoding="utf-8")
        notes = "".join(f"\n- {note}" for note in result.notes)
        (out_dir / f"{result.name}.md").write_text(f"## {result.title}\n\n{result.table.to_markdown()}{notes}\n", encoding="utf-8")
        lines.append(f"wrote {out_dir / result.name}.{{pdf,png,tex,md}}: {result.title}")
    return lines


def latest_run(results_root: Path) -> Path:
    """The newest run under ``results_root`` (run ids sort by start time, whatever the device)."""
    runs = sorted((m.parent for m in results_root.glob("*/*/manifest.json")), key=lambda p: p.name)
    if not runs:
        raise DataMissing(f"no runs under {results_root}/ (run `make bench`, or pass a run directory)")
    return runs[-1]


def fleet_runs(fleet_dir: Path) -> list[Path]:
    """The runs a fleet run gathered (``arbench fleet run``'s results/fleet/<id>): one per device, merged shards as one."""
    try:
        record = json.loads((fleet_dir / "fleet.json").read_text(encoding="utf-8"))
    except ValueError as error:
        raise DataMissing(
            f"{fleet_dir / 'fleet.json'} is damaged ({error}); `arbench fleet run --resume {fleet_dir}` writes it again"
        ) from None
    groups = (record.get("sharding") or {}).get("groups", [])
    sharded = {host for group in groups for host in group["hosts"]}
    runs = [Path(group["merged"]) for group in groups if group.get("merged")]
    runs += [Path(e["local_run_dir"]) for h, e in sorted(record["hosts"].items()) if h not in sharded and e.get("local_run_dir")]
    if not runs:
        raise DataMissing(f"fleet run {fleet_dir} gathered no run yet (see `arbench fleet status {fleet_dir}`)")
    return runs


def figures_command(run_dirs: Sequence[Path], out: Path | None, results_root: Path) -> list[str]:
    """What `arbench figures` does: draw every figure for the runs (default: the latest) into ``out``.

    A fleet run folder (results/fleet/<id>) stands for the runs it gathered; their figures go to its figures/.
    """
    paths = list(run_dirs) or [latest_run(results_root)]
    fleets = [p for p in paths if (p / "fleet.json").is_file()]
    if fleets and out is None and len(paths) == 1:
        out = fleets[0] / "figures"
    paths = [run for p in paths for run in (fleet_runs(p) if p in fleets else [p])]
    if len(paths) > 1 and out is None:
        raise UserError("several runs given: say where their figures go with --out DIR")
    runs = [load_run(p) for p in paths]
    target = out or runs[0].path / "figures"
    return [f"runs: {', '.join(str(p) for p in paths)}", *write_figures(draw_all(runs), target)]
