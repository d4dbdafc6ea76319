"""What ``arbench sensors`` and ``arbench system show|tune`` print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.telemetry.system import show_system, tune_system

__all__ = ["sensor_lines", "system_lines", "tune_lines"]


def sensor_lines(root: Path, names: tuple[str, ...] = ("auto",)) -> list[str]:
    """One line per sensor kind: what was found (channels, what makes the total, refresh) or why not."""
    from harness.energy.base import FileSensor
    from harness.energy.registry import probe_sensors

    lines = []
    for probe in probe_sensors(names, root):
        if not probe.found:
            lines.append(f"  absent  {probe.name:11} {probe.reason}")
            continue
        for sensor in probe.sensors:
            total = "+".join(sensor.total)
            lines.append(
                f"* found   {probe.name:11} {sensor.kind:7} {sensor.scope:6} {', '.join(sensor.channels)} "
                f"(total: {total}; refresh {sensor.refresh_s * 1e3:g} ms; {sensor.source})"
            )
            lines += [f"          {'':11} note: {note}" for note in sensor.notes]
            if isinstance(sensor, FileSensor):
                lines.append(f"          {'':11} sampler: {_file_sampler()}")
            sensor.close()
    return [*lines, "(* = read during runs unless [energy] enabled = false; a run without any sensor records energy as unavailable)"]


def _file_sampler() -> str:
    from harness.energy.native import unavailable_reason

    reason = unavailable_reason()
    return f"Python thread: {reason}" if reason else "C thread (harness.energy.native), unless [energy] native_sampler = false"


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


def tune_lines(device_name: str, mode: str | None) -> list[str]:
    """Apply a power mode of the device profile (root only); the commands that ran."""
    from harness.devices import resolve_device

    profile = resolve_device(device_name)
    return [f"ran: {command}" for command in tune_system(profile.power_modes, mode, profile.name)]
