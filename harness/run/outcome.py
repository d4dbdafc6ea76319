"""What happened to one configuration (``Outcome``, stored in the manifest) and which round of ``[run] rounds`` it ran."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FIRST_ROUND", "SAME_FRAMES", "Outcome", "RoundPlan", "merge_rounds"]

ENERGY_RANK = {"available": 0, "partial": 1, "unavailable": 2}
SAME_FRAMES = "same_frames_as_round_1"  # the stop reason of later rounds


@dataclass(frozen=True)
class RoundPlan:
    """Round ``index`` of ``[run] rounds``; later rounds measure ``frames`` frames, as many as the first did.

    So every round reads the same frames, whatever the machine's speed in it: the rounds' medians then
    differ only by the machine's drift, and no fast stretch weighs more in the pooled times.
    """

    index: int = 0
    frames: int | None = None  # None: the stopping rule decides (the first round)
    attempt: int = 0  # the run's invocation measuring it (0: the first; ``arbench run --resume`` adds one)


FIRST_ROUND = RoundPlan()


@dataclass
class Outcome:
    """What happened to one configuration; stored in the manifest."""

    config_id: str
    status: str = "pending"  # pending | running | complete | failed
    reason: str | None = None
    warmup_frames: int = 0
    measured_frames: int = 0
    failed_frames: int = 0
    stop_reason: str | None = None
    validity: dict[str, bool] = field(default_factory=dict)
    setup_s: float = 0.0
    measured_s: float = 0.0
    model_files: list[str] = field(default_factory=list)
    model_mb: float | None = None  # the model files' total size on disk, MB (10^6 bytes)
    rss_start_mb: float | None = None  # isolated worker only: its resident set when forked, before setup, MiB
    peak_rss_mb: float | None = None  # isolated worker only: its peak resident set (ru_maxrss), MiB
    source_info: dict[str, Any] = field(default_factory=dict)
    energy: dict[str, Any] = field(default_factory=dict)  # EnergyMeter.describe(): sensors, rails, idle baseline, status
    telemetry: dict[str, Any] = field(default_factory=dict)  # frequencies, utilization, temperatures, RSS, throttling
    accelerators: dict[str, str] = field(default_factory=dict)  # "ocr.det" -> "CPUExecutionProvider", "mt.model" -> "cuda"
    accelerator_fallbacks: list[str] = field(default_factory=list)  # parts below the profile's first provider


def merge_rounds(before: Outcome, now: Outcome) -> Outcome:
    """One configuration's outcome over its rounds so far: counts and times add up.

    The stopping rule and its minimums belong to the first round (later ones repeat its frames); energy
    and telemetry are the worse round's (partial beats available, throttled beats not), so the energy's
    sampler cost and idle baseline are one round's, not totals.
    """
    worse_energy = ENERGY_RANK.get(now.energy.get("status"), 0) > ENERGY_RANK.get(before.energy.get("status"), 0)
    newly_throttled = bool(now.telemetry.get("throttled")) and not before.telemetry.get("throttled")
    return dataclasses.replace(
        now,
        reason=now.reason or before.reason,
        warmup_frames=before.warmup_frames + now.warmup_frames,
        measured_frames=before.measured_frames + now.measured_frames,
        failed_frames=before.failed_frames + now.failed_frames,
        stop_reason=before.stop_reason if now.stop_reason == SAME_FRAMES else now.stop_reason,
        validity=before.validity,
        setup_s=before.setup_s + now.setup_s,
        measured_s=before.measured_s + now.measured_s,
        rss_start_mb=before.rss_start_mb if before.rss_start_mb is not None else now.rss_start_mb,
        peak_rss_mb=max((m for m in (before.peak_rss_mb, now.peak_rss_mb) if m is not None), default=None),
        source_info=before.source_info or now.source_info,
        energy=now.energy if worse_energy else before.energy or now.energy,
        telemetry=now.telemetry if newly_throttled else before.telemetry or now.telemetry,
    )
