"""Experiments and device profiles as typed, frozen data loaded from TOML.

An experiment is a matrix: every source × every OCR backend × every MT backend becomes one
configuration, run with the same run settings and stage switches. Backend-specific keys of each
``[[sources]]``, ``[[ocr]]`` and ``[[mt]]`` entry are checked against that backend's options dataclass.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.context import BackendContext
from harness.energy.settings import EnergySettings
from harness.errors import ConfigError, UserError
from harness.models.resolve import ResolvedModel, resolve_models
from harness.offload.options import Cell, OffloadOptions
from harness.pipeline import MT_UNITS, StageSwitches
from harness.registry import plugin
from harness.tables import choice, from_table, load_toml

__all__ = [
    "Component",
    "Configuration",
    "Experiment",
    "RunSettings",
    "load_experiment",
]

SCENARIOS = ("single-stream", "camera-paced", "offline")
SECTIONS = ("experiment", "run", "stages", "overlay", "sources", "ocr", "mt", "offload", "energy", "ar")


@dataclass(frozen=True)
class RunSettings:
    """Warm-up and stopping rule, applied to each configuration.

    Measurement stops when both ``min_frames`` and ``min_duration_s`` are reached, or at either cap,
    or when a finite source runs out. ``all_frames`` measures every frame of a finite source exactly
    once instead: after the warm-up the source starts again from its first frame, and measurement
    stops when it runs out (sources need ``loop = false``). ``isolate`` runs each configuration in its
    own process. ``rounds`` runs the whole matrix that many times, forward then backward in turn, each
    configuration measured by the rule above on the same frames in every round and its times pooled: a
    slow or noisy stretch of the machine then spreads over all configurations instead of landing on
    whichever ran during it (single-stream and offline scenarios only; accuracy counts each frame once).
    ``setup_timeout_s`` and ``frame_timeout_s`` bound an isolated worker's setup and each of its frames: past
    either, the worker is killed and the configuration fails (timed out), its frames so far kept.
    """

    warmup_frames: int = 3
    min_frames: int = 20
    min_duration_s: float = 5.0
    max_frames: int = 1000
    max_duration_s: float = 120.0
    fsync: bool = False
    isolate: bool = True
    save_overlays: int = 2
    scenario: str = "single-stream"
    source_fps: float = 0.0
    deadline_ms: float = 0.0
    offline_prefetch_frames: int = 256
    all_frames: bool = False
    setup_timeout_s: float = 600.0
    frame_timeout_s: float = 120.0
    rounds: int = 1

    def __post_init__(self) -> None:
        choice(self.scenario, SCENARIOS, "[run] scenario")
        if self.rounds < 1:
            raise ConfigError("[run] rounds must be 1 or more")
        if self.rounds > 1 and self.scenario not in ("single-stream", "offline"):
            raise ConfigError(
                f"[run] rounds = {self.rounds} needs scenario single-stream or offline (a paced camera's timeline is one stretch)"
            )
        if self.offline_prefetch_frames < 1 or self.deadline_ms < 0 or self.source_fps < 0:
            raise ConfigError("[run]: need offline_prefetch_frames >= 1, deadline_ms >= 0 and source_fps >= 0")
        if self.setup_timeout_s <= 0 or self.frame_timeout_s <= 0:
            raise ConfigError("[run]: setup_timeout_s and frame_timeout_s must be positive")
        if self.warmup_frames < 0 or self.min_frames < 1 or self.max_frames < self.min_frames:
            raise ConfigError("[run]: need warmup_frames >= 0, min_frames >= 1 and max_frames >= min_frames")
        if self.min_duration_s < 0 or self.max_duration_s < self.min_duration_s:
            raise ConfigError("[run]: need 0 <= min_duration_s <= max_duration_s")
        if self.save_overlays < 0:
            raise ConfigError("[run] save_overlays must be >= 0 (the first N overlay images of each configuration are kept)")


@dataclass(frozen=True)
class Component:
    """One entry of ``[[sources]]``, ``[[ocr]]`` or ``[[mt]]``: an id, a backend and its options.

    ``models``: the backend's models, found and verified by ``resolved()`` (preflight does it once per run;
    the worker's backend gets the paths and looks nothing up).
    """

    kind: str
    id: str
    backend: str
    options: Any
    optional: bool = False  # skipped, with its reason recorded, when its backend or model is not available here
    models: Mapping[str, ResolvedModel] = field(default_factory=dict)
    unit: str | None = None  # [[mt]] only: "block" or "line" instead of [stages] mt_unit (the naive peers translate lines)

    def resolved(self) -> Component:
        """The component with its models found and verified (one that needs none comes back as it is)."""
        if self.models:
            return self
        models = resolve_models(self.kind, self.backend, self.options, f"{self.kind} {self.id!r}")
        return dataclasses.replace(self, models=models) if models else self

    def context(self, base: BackendContext) -> BackendContext:
        """``base`` with this component's resolved model paths."""
        return base.with_models({part: model.path for part, model in self.models.items()})

    def preflight(self, base: BackendContext) -> Component:
        """Resolve the models and run the backend's own checks (packages, devices, tokenizers); the resolved component."""
        component = self.resolved()
        plugin(self.kind, self.backend, self.id).preflight(self.options, component.context(base))
        return component

    def create(self, base: BackendContext) -> Any:
        """Instantiate the backend with its verified models (resolved now if preflight has not)."""
        component = self.resolved()
        return plugin(self.kind, self.backend, self.id).create(self.options, component.context(base))

    def describe(self) -> dict[str, Any]:
        """For the manifest: id, backend, options, then what reports read as facts.

        Backends: the numeric precision their options ask for (None where none applies) and the resolved
        models; sources: whether they are live (their frames cannot be read again).
        """
        found = plugin(self.kind, self.backend, self.id)
        described = {"id": self.id, "backend": self.backend, "options": dataclasses.asdict(self.options)}
        if self.kind == "source":
            return described | {"live": found.factory_class().live}
        models = {part: model.describe() for part, model in self.models.items()}
        unit = {"unit": self.unit} if self.unit is not None else {}
        return described | unit | {"precision": found.precision(self.options), "models": models}

    def stages(self, stages: StageSwitches) -> StageSwitches:
        """The experiment's stage switches with this MT component's own ``unit``, where it has one."""
        return dataclasses.replace(stages, mt_unit=self.unit) if self.unit is not None else stages


@dataclass(frozen=True)
class Configuration:
    """One cell of the matrix; ``cell`` is where the stages run (placement and network, [offload])."""

    config_id: str
    source: Component
    ocr: Component
    mt: Component
    cell: Cell = field(default_factory=Cell)
    ar: ArEntry | None = None  # the [[ar]] entry (real-time AR mode, harness.ar); None: the plain pipeline

    def describe(self) -> dict[str, Any]:
        """Its components as plain data for the manifest (options, precision, resolved models), placement and AR entry."""
        from harness.offload.session import describe_cell

        parts = {part: c.describe() for part, c in (("source", self.source), ("ocr", self.ocr), ("mt", self.mt))}
        ar = {} if self.ar is None else {"ar": {"id": self.ar.id, "options": dataclasses.asdict(self.ar.options)}}
        return parts | {"placement": describe_cell(self.cell)} | ar


@dataclass(frozen=True)
class Experiment:
    """A whole experiment file, validated."""

    name: str
    description: str
    path: Path
    run: RunSettings
    stages: StageSwitches
    overlay: Any
    sources: tuple[Component, ...]
    ocr: tuple[Component, ...]
    mt: tuple[Component, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()  # (component id, why): optional components not available here
    offload: OffloadOptions | None = None  # [offload]: placements × networks; None: everything local
    energy: EnergySettings = field(default_factory=EnergySettings)
    ar: tuple[ArEntry, ...] = ()  # [[ar]]: AR-mode policies, one configuration each (docs/ar.md)
    only: tuple[str, ...] = ()  # `arbench run --configs`: these configurations of the matrix (a fleet shard); () for all

    def configurations(self) -> list[Configuration]:
        """The matrix, in file order: sources outermost, placements innermost ("+cloud@loopback" ids).

        A stage switched off is one "off" cell, not one per entry.
        """
        ocr = self.ocr if self.stages.ocr else (_OFF["ocr"],)
        mt = self.mt if self.stages.mt else (_OFF["mt"],)
        places = self.offload.cells() if self.offload is not None else [Cell()]
        cells = itertools.product(self.sources, ocr, mt, places)
        plain = [Configuration(f"{s.id}/{o.id}/{m.id}{p.suffix}", s, o, m, p) for s, o, m, p in cells]
        every = plain if not self.ar else [dataclasses.replace(c, config_id=f"{c.config_id}/{a.id}", ar=a) for c in plain for a in self.ar]
        return [c for c in every if c.config_id in self.only] if self.only else every

    def select(self, config_ids: tuple[str, ...]) -> Experiment:
        """The experiment with only these configurations (in matrix order); UserError naming any the matrix lacks."""
        known = {c.config_id for c in dataclasses.replace(self, only=()).configurations()}
        unknown = [c for c in config_ids if c not in known]
        if unknown:
            raise UserError(f"--configs: {', '.join(unknown)} not in {self.path}; its configurations: {', '.join(sorted(known))}")
        return dataclasses.replace(self, only=tuple(config_ids))


@dataclass(frozen=True)
class ArEntry:
    """One ``[[ar]]`` entry: an id and its options (harness.ar.options.ArOptions)."""

    id: str
    options: Any


def _without_id(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "id"}


def _ar_entries(table: dict[str, Any], where: str) -> tuple[ArEntry, ...]:
    from harness.ar.options import ArOptions

    entries = table.get("ar", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "id" in e for e in entries):
        raise ConfigError(f'{where}: [[ar]] entries are tables with an `id` (e.g. [[ar]] id = "confidence" policy = "confidence")')
    parsed = tuple(ArEntry(check_id(e["id"], where), from_table(ArOptions, _without_id(e), f"{where} [[ar]] {e['id']}")) for e in entries)
    ids = [a.id for a in parsed]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: duplicate [[ar]] ids; ids must be unique")
    return parsed


def _null(kind: str) -> Component:
    return Component(kind, "off", "null", plugin(kind, "null", kind).options_class()())


_OFF = {"ocr": _null("ocr"), "mt": _null("mt")}


@dataclass(frozen=True)
class _Header:
    name: str
    description: str = ""


def load_experiment(path: Path) -> Experiment:
    """Load and validate an experiment file; any problem is a one-line ConfigError."""
    table = load_toml(path)
    where = str(path)
    unknown = sorted(set(table) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown section [{unknown[0]}]; valid: {', '.join(SECTIONS)}")
    from harness.overlay.render import OverlayOptions

    header = from_table(_Header, table.get("experiment", {"name": path.stem}), f"{where} [experiment]")
    experiment = Experiment(
        name=header.name,
        description=header.description,
        path=path,
        run=from_table(RunSettings, table.get("run", {}), f"{where} [run]"),
        stages=from_table(StageSwitches, table.get("stages", {}), f"{where} [stages]"),
        overlay=from_table(OverlayOptions, table.get("overlay", {}), f"{where} [overlay]"),
        sources=_components(table, "sources", "source", "kind", where),
        ocr=_components(table, "ocr", "ocr", "backend", where, default="null"),
        mt=_components(table, "mt", "mt", "backend", where, default="null"),
        raw=table,
        offload=_offload(table, where),
        energy=from_table(EnergySettings, table.get("energy", {}), f"{where} [energy]"),
        ar=_rounds_without_ar(_ar_entries(table, where), table, where),
    )
    _check_sources(experiment, where)
    if experiment.ar and experiment.offload is not None:
        raise ConfigError(f"{where}: [[ar]] runs every stage on the device; drop [offload] from AR experiments")
    return experiment


def _check_sources(experiment: Experiment, where: str) -> None:
    """What each source kind says of itself (``SourceKind``) against the run settings and stages."""
    from harness.sources.base import endless

    run = experiment.run
    for source in experiment.sources:
        kind = plugin("source", source.backend, source.id).factory_class()
        name = f"{where}: source {source.id!r}"
        if kind.modality == "text" and (experiment.stages.ocr or experiment.stages.overlay):
            raise ConfigError(f"{name} gives text, not images: set [stages] ocr = false and overlay = false (MT only)")
        if run.rounds > 1 and not kind.rewindable:
            raise ConfigError(
                f"{where}: [run] rounds = {run.rounds} reads the same frames again, which a live source ({source.id}) cannot; "
                "use rounds = 1 or a recorded source (video, images)"
            )
        if run.all_frames and endless(source.options, kind):
            raise ConfigError(
                f"{where}: [run] all_frames measures each frame once: set loop = false on source {source.id!r} (a live source cannot)"
            )
        if run.scenario == "camera-paced" and not run.source_fps and not kind.timed:
            raise ConfigError(
                f"{name}: camera-paced needs a frame rate: set [run] source_fps, or use a source that has one (video, synthvideo)"
            )
        if run.scenario == "camera-paced" and kind.live:
            raise ConfigError(
                f"{name}: camera-paced replays recorded frames at a camera's rate; a live source paces itself: use single-stream"
            )


def _rounds_without_ar(entries: tuple[ArEntry, ...], table: dict[str, Any], where: str) -> tuple[ArEntry, ...]:
    rounds = table.get("run", {}).get("rounds", 1)
    if entries and rounds != 1:
        raise ConfigError(f"{where}: [run] rounds = {rounds} cannot be used with [[ar]] entries (AR mode follows one video); remove one")
    return entries


def _offload(table: dict[str, Any], where: str) -> OffloadOptions | None:
    if "offload" not in table:
        return None
    options = from_table(OffloadOptions, table["offload"], f"{where} [offload]")
    stages = table.get("stages", {})
    if any(c.offloaded for c in options.cells()) and not (stages.get("ocr", True) and stages.get("mt", True)):
        raise ConfigError(f"{where} [offload]: offloaded placements run OCR and MT; keep [stages] ocr and mt on")
    return options


def _components(table: dict[str, Any], section: str, kind: str, key: str, where: str, default: str | None = None) -> tuple[Component, ...]:
    entries = table.get(section)
    if entries is None and default is not None:
        entries = [{"id": "off", key: default}]
    if not entries or not isinstance(entries, list):
        raise ConfigError(f"{where}: needs at least one [[{section}]] entry")
    components = tuple(_component(e, section, kind, key, f"{where} [[{section}]] #{i + 1}") for i, e in enumerate(entries))
    ids = [c.id for c in components]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"{where}: duplicate [[{section}]] id {duplicate!r}; ids must be unique")
    return components


def _component(entry: Any, section: str, kind: str, key: str, where: str) -> Component:
    if not isinstance(entry, dict) or "id" not in entry or key not in entry:
        raise ConfigError(f"{where}: each [[{section}]] entry needs `id` and `{key}`")
    reserved = ("id", key, "optional", "unit") if kind == "mt" else ("id", key, "optional")
    options = {k: v for k, v in entry.items() if k not in reserved}
    optional = entry.get("optional", False)
    if not isinstance(optional, bool):
        raise ConfigError(f"{where}: `optional` must be true or false")
    unit = entry.get("unit")
    if unit is not None and unit not in MT_UNITS:
        raise ConfigError(f"{where}: `unit` must be one of {', '.join(MT_UNITS)}, not {unit!r}")
    found = plugin(kind, str(entry[key]), where)
    parsed = from_table(found.options_class(), options, f"{where} ({entry[key]})")
    return Component(kind, check_id(entry["id"], where), str(entry[key]), parsed, optional, unit=unit)


ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def check_id(value: Any, where: str) -> str:
    """``value`` if it can name files and configurations: 1–64 letters, digits, '.', '_' or '-', not starting with '.'."""
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise ConfigError(
            f"{where}: id {str(value)[:40]!r} cannot name files: use 1-64 letters, digits, '.', '_' or '-' (not starting with '.')"
        )
    return value
