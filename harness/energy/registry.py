"""Sensor name → probe function, imported only when probed (NVML's library only loads if asked for)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from harness.energy.base import Probe

__all__ = ["AUTO", "SENSOR_PROBES", "probe_sensors"]

SENSOR_PROBES: dict[str, str] = {
    "rapl": "harness.energy.rapl",
    "nvml": "harness.energy.nvml",
    "ina3221": "harness.energy.jetson",
    "tegrastats": "harness.energy.tegrastats",
    "ina2xx": "harness.energy.ina2xx",
    "pi5_pmic": "harness.energy.pi5",
    "pyrapl": "harness.energy.pyrapl",
}
AUTO = ("rapl", "nvml", "ina3221", "tegrastats", "ina2xx", "pi5_pmic")  # pyrapl only when named
# when the first is found, the second is not probed: it would read the same rails another way
SUPERSEDES = {"tegrastats": "ina3221", "pyrapl": "rapl"}


def probe_sensors(names: Sequence[str] = ("auto",), root: Path = Path("/")) -> list[Probe]:
    """Probe each named sensor kind (``auto``: every kind) under ``root``; one Probe per kind, found or not."""
    wanted = list(AUTO) if list(names) == ["auto"] else list(names)
    probes: list[Probe] = []
    for name in wanted:
        earlier = SUPERSEDES.get(name)
        if earlier in wanted and any(p.name == earlier and p.found for p in probes):
            probes.append(Probe(name, reason=f"not used: {earlier} reads the same rails directly"))
            continue
        module = importlib.import_module(SENSOR_PROBES[name])
        try:
            probes.append(module.probe(root))
        except OSError as exc:  # an unreadable tree: say so, never stop the run for it
            probes.append(Probe(name, reason=f"probe failed: {exc}"))
    return probes
