"""pyRAPL as an alternative RAPL reader, where it is installed and works (``sensors = ["pyrapl"]``).

pyRAPL reads /sys/class/powercap/intel-rapl/intel-rapl:N/energy_uj itself (package and DRAM per socket, µJ,
-1 where a domain is missing) and always from the real /sys, so it ignores a fake root. It has no wrap
handling and no psys, core or uncore: the ``rapl`` reader is preferred; this one exists to cross-check it.
Never chosen by ``auto``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.energy.base import Probe, SensorBase, SensorError

__all__ = ["PyRaplSensor", "probe"]


@dataclass
class PyRaplSensor(SensorBase):
    """Cumulative package and DRAM energy from ``pyRAPL.Sensor.energy()`` (µJ → J)."""

    reader: Any = None
    slots: tuple[int, ...] = ()  # positions in pyRAPL's (pkg s0, dram s0, pkg s1, ...) list

    def read(self) -> dict[str, float]:
        try:
            values = self.reader.energy()
        except Exception as exc:  # noqa: BLE001 - a third-party reader: any failure is a failed read
            raise SensorError(f"pyRAPL: {exc}") from None
        return {channel: values[slot] / 1e6 for channel, slot in zip(self.channels, self.slots, strict=True)}


def probe(root: Path | None = None) -> Probe:
    """Set up pyRAPL's sensor; unavailable when the package is missing or cannot read RAPL here."""
    try:
        import pyRAPL
    except ImportError:
        return Probe("pyrapl", reason="pyRAPL is not installed (pip install pyRAPL); the built-in rapl reader does the same")
    try:
        reader = pyRAPL.Sensor()
        values = reader.energy()
    except Exception as exc:  # noqa: BLE001 - pyRAPL raises its own exception types for a missing RAPL
        return Probe("pyrapl", reason=f"pyRAPL cannot read RAPL here: {type(exc).__name__}: {exc}")
    slots = tuple(i for i, v in enumerate(values) if v >= 0)
    channels = tuple(f"{'package' if i % 2 == 0 else 'dram'}-{i // 2}" for i in slots)
    note = "no wrap-around correction in pyRAPL's reading path; prefer the rapl reader"
    sensor = PyRaplSensor("pyrapl", "counter", channels, channels, "cpu", 0.001, source="pyRAPL", notes=[note], reader=reader, slots=slots)
    return Probe("pyrapl", [sensor], note)
