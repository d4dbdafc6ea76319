"""Warnings a reader of a run's figures must see: partial runs, failures, throttling, wide CIs, partial energy."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.energy.nvml import AGREEMENT_TOLERANCE, counter_power_agreement
from harness.report.columns import ENERGY_REASON, ENERGY_STATUS, is_missing
from harness.store.reader import Run

__all__ = ["FREQ_DROP", "HOT_C", "WIDE_CI", "run_warnings", "throttling_warnings"]

WIDE_CI = 0.10  # a p50 95% CI wider than this fraction of the median is flagged
FREQ_DROP = 0.10  # a CPU's frequency at the end this much below the start suggests throttling
HOT_C = 80.0  # a thermal zone at or above this at the end of the run


def _max_freq(cpu: dict[str, Any]) -> float | None:
    values = [v for v in cpu.get("cur_freq_khz") or [] if v]
    return max(values) if values else None


def throttling_warnings(manifest: dict[str, Any]) -> list[str]:
    """Compare the environment at the start and at the end: CPU frequency drops and hot thermal zones."""
    start, end = manifest.get("environment", {}), manifest.get("environment_end")
    if not end:
        return []
    lines = []
    before, after = _max_freq(start.get("cpu", {})), _max_freq(end.get("cpu", {}))
    if before and after and after < (1 - FREQ_DROP) * before:
        lines.append(f"possible throttling: highest CPU frequency fell from {before / 1e3:.0f} MHz to {after / 1e3:.0f} MHz during the run")
    hot = [f"{z.get('type') or z.get('zone')} {z['temp_c']:.0f} °C" for z in end.get("thermal", []) if (z.get("temp_c") or 0) >= HOT_C]
    if hot:
        lines.append(f"possible throttling: hot at the end of the run: {', '.join(hot)}")
    return lines


def _ci_warnings(summary: pd.DataFrame) -> list[str]:
    lines = []
    for row in summary[summary["stage"] == "e2e"].to_dict("records"):
        low, high, p50 = row.get("p50_ci_low_ms"), row.get("p50_ci_high_ms"), row.get("p50_ms")
        if any(is_missing(v) for v in (low, high, p50)):
            lines.append(f"{row['config_id']}: no CI of the median (fewer than 6 measured frames)")
        elif p50 > 0 and (high - low) / p50 > WIDE_CI:
            lines.append(
                f"{row['config_id']}: wide CI: p50 {p50:.1f} ms, 95% CI {low:.1f}–{high:.1f} ms "
                f"({100 * (high - low) / p50:.0f}% of the median)"
            )
    return lines + _drift_warnings(summary)


def _drift_warnings(summary: pd.DataFrame) -> list[str]:
    """Configurations whose median moved more than WIDE_CI between rounds: one line each, or one for many."""
    rows = summary[summary["stage"] == "e2e"].to_dict("records")
    moved = [(r["config_id"], r["p50_round_spread_pct"]) for r in rows if not is_missing(r.get("p50_round_spread_pct"))]
    drifted = [(c, v) for c, v in moved if v > 100 * WIDE_CI]
    meaning = "differences between configurations smaller than that are not resolved"
    if len(drifted) > 2:
        spreads = [v for _, v in drifted]
        return [
            f"the median moved {min(spreads):.0f}–{max(spreads):.0f}% between rounds for {len(drifted)} of {len(moved)} "
            f"configurations (the machine drifted; worst: {max(drifted, key=lambda d: d[1])[0]}): {meaning}"
        ]
    return [f"{c}: the median moved {v:.0f}% between rounds (the machine drifted): {meaning}" for c, v in drifted]


def _energy_warnings(run: Run) -> list[str]:
    validity = run.manifest.get("validity", {})
    status, reason = validity.get(ENERGY_STATUS), validity.get(ENERGY_REASON)
    if status == "partial":
        return [f"partial energy: {reason or 'some readings are missing'}"]
    if isinstance(status, str) and status.startswith("unavailable"):
        return [f"energy unavailable{f': {reason}' if reason else ''} (not a problem with the run; energy figures are skipped)"]
    return []


def _throttled(manifest: dict[str, Any]) -> list[str]:
    """The run's own throttling verdict (telemetry), else a comparison of the environment at start and end."""
    validity = manifest.get("validity", {})
    if "throttled" not in validity:
        return throttling_warnings(manifest)
    lines = []
    for outcome in manifest.get("configurations", []):
        if outcome["config_id"] in validity.get("throttled_configurations", []):
            evidence = (outcome.get("telemetry") or {}).get("throttle_evidence") or []
            lines.append(f"throttled: {outcome['config_id']}{': ' + '; '.join(map(str, evidence)) if evidence else ''}")
    if validity.get("throttled") and not lines:
        lines.append("throttled during the run (manifest validity.throttled)")
    if validity["throttled"] is None:
        lines.append("throttling unknown: no CPU frequency, thermal-throttle counter or get_throttled was readable here")
    return lines


def gpu_energy_lines(run: Run) -> list[str]:
    """NVML's energy counter against its integrated power, per configuration and GPU, where they disagree."""
    if run.frames.empty or "energy" not in run.frames.columns:
        return []
    lines = []
    for config_id, frames in run.frames.groupby("config_id", sort=False):
        for gpu, figures in counter_power_agreement(frames.to_dict("records")).items():
            if not abs(figures["ratio"] - 1) <= AGREEMENT_TOLERANCE:
                lines.append(
                    f"{config_id}: {gpu}'s integrated NVML power gives {figures['integrated_j']:.1f} J against its energy counter's"
                    f" {figures['counter_j']:.1f} J (ratio {figures['ratio']:.2f}, tolerance ±{AGREEMENT_TOLERANCE:.0%}): trust the counter"
                )
    return lines


def run_warnings(run: Run, summary: pd.DataFrame) -> list[str]:
    """Every warning for this run, one line each, most serious first."""
    lines = []
    validity = run.manifest.get("validity", {})
    if not run.complete:
        lines.append(f"PARTIAL run (status {run.manifest.get('status')!r}): numbers come from the frames written before it stopped")
    for outcome in run.manifest.get("configurations", []):
        if outcome.get("status") == "failed":
            lines.append(f"{outcome['config_id']}: failed: {outcome.get('reason')}")
        elif outcome.get("validity") and not all(ok for k, ok in outcome["validity"].items() if k != "overlays_saved"):
            unmet = ", ".join(k for k, ok in outcome["validity"].items() if not ok and k != "overlays_saved")
            lines.append(f"{outcome['config_id']}: stopped before its minimums ({unmet}; stop reason {outcome.get('stop_reason')})")
        if (outcome.get("validity") or {}).get("overlays_saved") is False:
            lines.append(f"{outcome['config_id']}: {outcome.get('reason')}")
        if outcome.get("failed_frames"):
            lines.append(f"{outcome['config_id']}: {outcome['failed_frames']} measured frame(s) failed and are in no figure")
    if validity.get("bad_frame_lines") or run.bad_lines:
        count = max(int(validity.get("bad_frame_lines") or 0), run.bad_lines)
        lines.append(f"{count} unreadable line(s) in frames.jsonl skipped (not UTF-8, not whole JSON or not a frame record)")
    if validity.get("device_matches_detected") is False:
        lines.append("the device profile does not match the machine detected")
    for outcome in run.manifest.get("configurations", []):
        for line in outcome.get("accelerator_fallbacks") or []:
            lines.append(f"{outcome['config_id']}: {line}")
    lines += gpu_energy_lines(run)
    invocations = run.manifest.get("invocations") or []
    if len(invocations) > 1:
        gone = sum(int(s.get("frame_records", 0)) for s in run.manifest.get("superseded") or [] if isinstance(s, dict))
        forced = [why for i in invocations for why in i.get("forced") or []]
        lines.append(
            f"resumed {len(invocations) - 1} time(s): {gone} frame record(s) of unfinished rounds were measured again and are in no figure"
            + (f"; resumed with --force although: {'; '.join(forced)}" if forced else "")
        )
    differs = (run.manifest.get("environment", {}).get("cpu") or {}).get("simd_cpuinfo_differs")
    if differs:
        lines.append(
            f"CPUID and /proc/cpuinfo disagree ({differs}): accuracy is that of the CPUID instruction set, "
            "but under an emulator the times and energy are the emulator's, not a CPU's"
        )
    return lines + _throttled(run.manifest) + _ci_warnings(summary) + _energy_warnings(run)
