"""Temperatures of the kernel's thermal zones (/sys/class/thermal/thermal_zoneN), in °C.

The kernel writes millidegrees Celsius; conversion happens here, at the edge.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypedDict

from harness.system.files import read_int, read_text, under

__all__ = ["ThermalZone", "capture_thermal"]

THERMAL_DIR = "/sys/class/thermal"


class ThermalZone(TypedDict):
    """One thermal zone and its temperature in degrees Celsius.

    ``zone`` is the sysfs name (``thermal_zone0``), ``type`` the driver's label (``cpu-thermal``,
    ``x86_pkg_temp``), ``temp_c`` ``None`` where the sensor could not be read.
    """

    zone: str
    type: str | None
    temp_c: float | None


def _zone_names(root: Path) -> list[str]:
    try:
        names = [entry.name for entry in under(root, THERMAL_DIR).iterdir()]
    except OSError:
        return []
    zones = [name for name in names if re.fullmatch(r"thermal_zone\d+", name)]
    return sorted(zones, key=lambda name: int(name.removeprefix("thermal_zone")))


def _read_zone(root: Path, zone: str) -> tuple[ThermalZone, str | None]:
    kind = read_text(root, f"{THERMAL_DIR}/{zone}/type").text
    millidegrees, problem = read_int(root, f"{THERMAL_DIR}/{zone}/temp")
    temp_c = None if millidegrees is None else millidegrees / 1000.0
    reason = None if problem is None else f"thermal {zone} ({kind}): {problem}"
    return ThermalZone(zone=zone, type=kind, temp_c=temp_c), reason


def capture_thermal(root: Path = Path("/")) -> tuple[list[ThermalZone], list[str]]:
    """Every thermal zone in numeric order, and reasons for zones or temperatures that are missing."""
    names = _zone_names(root)
    if not names:
        return [], [f"thermal: no {THERMAL_DIR}/thermal_zone* (virtual machine or no thermal driver)"]
    zones: list[ThermalZone] = []
    reasons: list[str] = []
    for name in names:
        zone, reason = _read_zone(root, name)
        zones.append(zone)
        reasons += [reason] if reason else []
    return zones, reasons
