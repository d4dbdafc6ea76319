"""One or more stored runs as the figures see them: configurations with short labels and their samples.

Per-frame samples are read from frames.jsonl with the definitions summary.csv uses (measured frames
only, warm-ups and failed frames left out; ``e2e`` from the start of the first stage to the end of the
last). Summary rows come from summary.csv, or are computed from frames for a run that did not finish.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics.latency import MIN_CI_FRAMES, repeats
from harness.report.columns import is_missing
from harness.report.tables import run_summary
from harness.store.reader import Run, read_frames
from harness.store.schema import FRAMES
from harness.store.spans import e2e_ms, stage_spans
from harness.store.summary import frame_key, once_per_frame

__all__ = ["MIN_CI_FRAMES", "Dataset", "Series", "instruction_set", "short_labels"]


@dataclass
class Series:
    """One configuration of one run: ``label`` is short and unique within its Dataset."""

    label: str
    config_id: str
    run: Run
    device: str
    records: list[dict[str, Any]] = field(repr=False)
    summary: pd.DataFrame = field(repr=False)

    def row(self, stage: str = "e2e") -> dict[str, Any] | None:
        """The summary row of ``stage`` for this configuration, or None."""
        rows = self.summary[self.summary["stage"] == stage]
        return None if rows.empty else rows.iloc[0].to_dict()

    def stage_sample(self, stage: str) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
        """Durations (ms) of ``stage`` over measured frames that have it (``e2e`` as in summary.csv), and the source frame of each.

        With ``[run] rounds`` a frame's readings repeat, and bootstraps draw them together (harness.report.stats).
        """
        if stage == "e2e":
            pairs = [(e2e_ms(r), self.frame_of(r)) for r in self.records]
        else:
            spans = [(s, r) for r in self.records for s in r["spans"] if s["name"] == stage]
            pairs = [((s["end_ns"] - s["start_ns"]) / 1e6, self.frame_of(r)) for s, r in spans]
        kept = [(value, frame) for value, frame in pairs if value is not None]
        return np.array([v for v, _ in kept], dtype=float), [f for _, f in kept]

    def stage_ms(self, stage: str) -> np.ndarray:
        """Durations (ms) of ``stage`` over measured frames that have it; ``e2e`` as in summary.csv."""
        return self.stage_sample(stage)[0]

    def stage_frames(self, stage: str) -> list[tuple[Any, ...]]:
        """The source frame of each of ``stage_ms(stage)``'s values, in order."""
        return self.stage_sample(stage)[1]

    def frame_of(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """The source frame a record read, as the statistics pair and group readings: (source, frame_id).

        A live camera's frames are new images each time, whatever their numbers: each record is its own.
        """
        if self.live:
            return (record.get("source"), "live", record.get("round", 0), record["seq"])
        return frame_key(record)

    @cached_property
    def live(self) -> bool:
        """Whether the source is live (a camera: its frames cannot be read twice), as the manifest records it.

        Schema 1 did not record it; its only live source was the camera backend.
        """
        source = self.resolved().get("source", {})
        return bool(source["live"]) if "live" in source else source.get("backend") == "camera"

    def ci_method(self, stage: str = "e2e") -> str | None:
        """How summary.csv's p50 CI of ``stage`` was made (a key of ``CI_METHODS``); None where it has none.

        Schema 2 records it per row; for schema 1 it is worked out as that arbench made it: a bootstrap over
        frames where ``[run] rounds`` read frames again, else order statistics.
        """
        method = (self.row(stage) or {}).get("p50_ci_method")
        if self.run.schema_version >= 2:
            return None if is_missing(method) else str(method)
        return "frame_bootstrap" if repeats(self.stage_frames(stage)) else "order_statistics"

    def stage_ms_per_frame(self, stage: str) -> np.ndarray:
        """Time (ms) each measured frame spent in ``stage``, 0 where a frame has no such span.

        Means of these add up across stages to the mean frame time, which means over only the frames
        that have a span (summary.csv's ``mean_ms``) do not: not every frame reaches MT.
        """
        return np.array(
            [sum((s["end_ns"] - s["start_ns"]) / 1e6 for s in r["spans"] if s["name"] == stage) for r in self.records], dtype=float
        )

    def accuracy(self) -> list[dict[str, Any]]:
        """The ``accuracy`` objects of measured frames that have one, each source frame once (rounds repeat frames)."""
        return [r["accuracy"] for r in once_per_frame(self.records) if isinstance(r.get("accuracy"), dict)]

    def accuracy_by_frame(self) -> dict[tuple[str, int], dict[str, Any]]:
        """The ``accuracy`` objects of measured frames keyed by (source, frame_id), for paired comparisons."""
        return {
            (str(r.get("source")), int(r["frame_id"])): r["accuracy"]
            for r in once_per_frame(self.records)
            if isinstance(r.get("accuracy"), dict) and r.get("frame_id") is not None
        }

    def resolved(self) -> dict[str, Any]:
        """The manifest's resolved components (source, ocr, mt with options) of this configuration."""
        configurations = self.run.manifest.get("experiment", {}).get("resolved", {}).get("configurations", {})
        return configurations.get(self.config_id, {})


def _parts(config_id: str) -> list[str]:
    """``source/ocr/mt[+placement@network]`` as four parts, the placement "local" when absent."""
    head, plus, placement = config_id.partition("+")
    return [*head.split("/"), placement if plus else "local"]


def short_labels(names: Sequence[str]) -> tuple[list[str], str]:
    """Drop the parts of configuration ids that every id shares; return the labels and the shared parts.

    ``["a/x/m", "b/x/m"]`` gives ``(["a", "b"], "x/m")``; a single id keeps its first part. Ids are
    ``source/ocr/mt``, offloaded ones with ``+placement@network`` (local when absent).
    """
    parts = [_parts(name) for name in names]
    width = min(len(p) for p in parts) if parts else 0
    shared = [i for i in range(width) if len({p[i] for p in parts}) == 1 and all(len(p) == width for p in parts)]
    if len(shared) == width and width:
        shared = shared[1:]
    labels = ["/".join(x for i, x in enumerate(p) if i not in shared) for p in parts]
    common = [parts[0][i] for i in shared if not (i == width - 1 and parts[0][i] == "local")] if parts else []
    return labels, "/".join(common)


@dataclass
class Dataset:
    """The configurations of one or more runs, in run order then manifest order.

    ``series`` holds configurations with measured frames; ``left_out`` names the others and why
    (figures list them in their notes rather than dropping them silently); ``shared`` is the part of
    the configuration ids common to all, left out of the labels.
    """

    runs: list[Run]
    series: list[Series]
    left_out: list[str]
    shared: str

    @classmethod
    def from_runs(cls, runs: Sequence[Run]) -> Dataset:
        """Collect configurations; prefix labels with the device, or the run id, when several runs are given."""
        entries, left_out = [], []
        for run in runs:
            summary = run_summary(run)
            by_config: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for record in read_frames(run.path / FRAMES)[0]:  # the records as written (a DataFrame would add NaNs)
                if not record["warmup"] and record["ok"] and stage_spans(record["spans"]):
                    by_config[record["config_id"]].append(record)
            for outcome in run.manifest.get("configurations", []):
                config_id = outcome["config_id"]
                if not by_config.get(config_id):
                    left_out.append(
                        f"{config_id}: {outcome.get('status')}, no measured frame ({outcome.get('reason') or 'no reason given'})"
                    )
                    continue
                records = sorted(by_config[config_id], key=lambda r: (r.get("round", 0), r["seq"]))
                entries.append((run, config_id, records, summary[summary["config_id"] == config_id]))
        labels, shared = short_labels([config_id for _, config_id, _, _ in entries])
        prefixes = _run_prefixes(runs)
        series = [
            Series(prefixes[id(run)] + label, config_id, run, _device(run), records, rows)
            for (run, config_id, records, rows), label in zip(entries, labels, strict=True)
        ]
        return cls(list(runs), series, left_out, shared)

    @property
    def devices(self) -> list[str]:
        """Device names of the runs, in order, without repeats."""
        return list(dict.fromkeys(_device(run) for run in self.runs))

    def caption_note(self) -> str:
        """What every configuration shares (left out of the labels) and the instruction set(s), for a caption.

        int8 speed and accuracy depend on the instruction set (harness.system.isa): a caption names it.
        """
        shared = f"; all configurations: {self.shared}" if self.shared else ""
        return f"{shared}; instruction set: {self.instruction_sets()}"

    def instruction_sets(self) -> str:
        """The runs' instruction sets (``instruction_set`` of each), joined."""
        return ", ".join(dict.fromkeys(instruction_set(run) for run in self.runs)) or "unknown"

    def ci_methods(self, stage: str = "e2e") -> str:
        """How these configurations' p50 CIs were made, for a caption."""
        methods = {one.ci_method(stage) for one in self.series} - {None}
        if methods == {"frame_bootstrap"}:
            return "bootstrap over frames, which rounds read repeatedly"
        return "order statistics; bootstrap over frames where rounds read them repeatedly" if len(methods) > 1 else "order statistics"

    def few_frames(self) -> list[str]:
        """Labels of configurations with too few measured frames for a CI of the median (summary.csv leaves it empty).

        Frames, not readings: with ``[run] rounds`` the interval draws distinct frames.
        """
        return [s.label for s in self.series if len({s.frame_of(r) for r in s.records}) < MIN_CI_FRAMES]


def instruction_set(run: Run) -> str:
    """A run's instruction set (manifest ``environment.cpu.isa``), "unknown" where it did not record one."""
    return str(((run.manifest.get("environment") or {}).get("cpu") or {}).get("isa") or "unknown")


def _device(run: Run) -> str:
    """The run's device profile; for a fleet run, with the host(s) that measured it, so two hosts of one profile stay apart."""
    name = str(run.manifest.get("device", {}).get("name") or run.path.parent.name)
    fleet = run.manifest.get("fleet") or {}
    hosts = fleet.get("host") or "+".join(fleet.get("shards", {}))
    return f"{name} ({hosts})" if hosts else name


def environment_line(run: Run, short: bool = False) -> str:
    """The device's own environment in a few words: CPU model and cores, instruction set (``short``: no more), OS, Python."""
    environment = run.manifest.get("environment") or {}
    cpu = environment.get("cpu") or {}
    cores = cpu.get("logical_cores")
    parts = [
        f"{cpu.get('model', 'unknown CPU')}" + (f" ×{cores}" if cores else ""),
        str(cpu.get("isa") or "ISA unknown"),
        str((environment.get("os") or {}).get("pretty_name") or "OS unknown"),
        f"Python {(environment.get('python') or {}).get('version', '?')}",
    ]
    return ", ".join(parts[:2] if short else parts)


def _run_prefixes(runs: Sequence[Run]) -> dict[int, str]:
    """No prefix for one run; the device when devices tell runs apart; else the run id."""
    if len(runs) < 2:
        return {id(run): "" for run in runs}
    devices = [_device(run) for run in runs]
    if len(set(devices)) == len(runs):
        return {id(run): f"{device}: " for run, device in zip(runs, devices, strict=True)}
    return {id(run): f"{run.manifest.get('run_id', run.path.name)}: " for run in runs}
