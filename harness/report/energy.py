"""Energy per frame and per stage of a configuration, read from the store (docs/results.md, "energy").

frames.jsonl records carry ``energy``: per span name and ``e2e``, ``gross_j`` and ``net_j`` (null when
unknown: never estimated). Means here are over measured frames whose end-to-end energy is known, a
stage a frame did not pass through counting 0 J, so stages add up to the frame. Where frames carry no
energy, the summary's e2e ``energy_gross_j`` / ``energy_net_j`` are used without a CI. Everything is
NaN for a run without energy, which the figures turn into a skip reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.report.columns import ENERGY_GROSS, ENERGY_NET, FRAME_ENERGY, GROSS, NET, is_missing
from harness.report.dataset import Series
from harness.report.stats import bootstrap_ci

__all__ = ["energy_frames", "frame_energies", "frame_energy_j", "has_energy", "stage_energy_j"]

NAN = float("nan")
SUMMARY_COLUMN = {GROSS: ENERGY_GROSS, NET: ENERGY_NET}


def _per_frame(series: Series, stage: str, key: str) -> np.ndarray:
    """Joules of ``stage`` in each measured frame whose e2e energy is known (0 where the frame has no such span)."""
    return np.array([float((energy.get(stage) or {}).get(key) or 0.0) for energy, _ in _with_energy(series, key)], dtype=float)


def _with_energy(series: Series, key: str) -> list[tuple[dict, tuple]]:
    """(energy, source frame) of each measured record whose end-to-end ``key`` energy is known."""
    return [
        (record[FRAME_ENERGY], series.frame_of(record))
        for record in series.records
        if isinstance(record.get(FRAME_ENERGY), dict) and (record[FRAME_ENERGY].get("e2e") or {}).get(key) is not None
    ]


def energy_frames(series: Series, key: str = GROSS) -> list[tuple]:
    """The source frame of each of ``frame_energies``' values (rounds repeat frames: bootstraps draw them together)."""
    return [frame for _, frame in _with_energy(series, key)]


def frame_energies(series: Series, key: str = GROSS) -> np.ndarray:
    """Joules of each measured frame whose end-to-end energy is known."""
    return _per_frame(series, "e2e", key)


def has_energy(series: Series, key: str = GROSS) -> bool:
    """True when this configuration has end-to-end energy, per frame or in its summary."""
    return bool(len(_per_frame(series, "e2e", key))) or not is_missing((series.row("e2e") or {}).get(SUMMARY_COLUMN[key]))


def frame_energy_j(series: Series, key: str = GROSS) -> tuple[float, float, float]:
    """Mean energy per frame (J) with its 95% bootstrap CI; the summary's value (no CI) or NaN without frames."""
    values = _per_frame(series, "e2e", key)
    if len(values):
        return (float(values.mean()), *bootstrap_ci(values, "mean", frames=energy_frames(series, key)))
    stored = (series.row("e2e") or {}).get(SUMMARY_COLUMN[key])
    return (NAN if is_missing(stored) else float(stored)), NAN, NAN


def stage_energy_j(series: Series, parts: Sequence[str], key: str = GROSS) -> dict[str, float]:
    """Mean joules per frame in each of ``parts``, and "other": the frame's energy outside them (≥ 0)."""
    means = {part: float(_per_frame(series, part, key).mean()) if len(_per_frame(series, part, key)) else NAN for part in parts}
    total = frame_energy_j(series, key)[0]
    known = [v for v in means.values() if np.isfinite(v)]
    means["other"] = max(0.0, total - sum(known)) if np.isfinite(total) and known else NAN
    return means
