"""What ``arbench sensors`` prints: the energy sensors found here, and why the others are not."""

from __future__ import annotations

from pathlib import Path

__all__ = ["sensor_lines"]


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
