"""What ``arbench system show|tune`` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.system.state import show_system, tune_system

__all__ = ["system_lines", "tune_lines"]


def _policy(name: str, policy: dict[str, Any]) -> str:
    return (
        f"  {name} (cpus {policy['cpus']}): governor {policy['governor']}, {policy['min_khz']}–{policy['max_khz']} kHz "
        f"allowed, {policy['hw_max_khz']} kHz hardware maximum, now {policy['cur_khz']} kHz"
    )


def system_lines(root: Path) -> list[str]:
    """The system state that every manifest records (``system``), readably."""
    state = show_system(root)
    lines = ["cpufreq:"] + [_policy(name, p) for name, p in state["cpufreq"].items()]
    nvp = state["nvpmodel"]
    lines.append(f"nvpmodel: {nvp['mode']} (id {nvp['id']})" if nvp else "nvpmodel: -")
    lines.append(f"jetson_clocks: {state['jetson_clocks'] or '-'}")
    thr = state["throttled"]
    lines.append(f"throttled: {thr['raw']} {', '.join(thr['flags']) or 'none'}" if thr else "throttled: -")
    return lines + [f"unavailable: {why}" for why in state["unavailable"]]


def tune_lines(power_modes: dict[str, list[str]], mode: str | None, device: str) -> list[str]:
    """Apply a power mode of a device profile's ``power_modes`` (root only); the commands that ran."""
    return [f"ran: {command}" for command in tune_system(power_modes, mode, device)]
