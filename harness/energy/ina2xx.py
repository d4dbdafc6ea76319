"""External INA219 / INA226 power meters through the hwmon ``ina2xx`` driver (``power1_input`` in µW).

/sys/class/hwmon/hwmonN (N not stable) with ``name`` ina219/ina226/...; ``in1_input`` bus mV, ``curr1_input``
mA, ``power1_input`` µW. ``update_interval`` (ms) exists on ina226/230/231 only; an INA219 in the driver's
default configuration (12-bit, no averaging) converts in about 1.1 ms. Each meter is taken to sit on its own
supply line, so the total is their sum; a meter on the board's input covers everything on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.energy.base import FileChannel, FileSensor, Probe, read_number
from harness.system.files import under

__all__ = ["CHIPS", "Ina2xxSensor", "probe"]

HWMON = "/sys/class/hwmon"
CHIPS = ("ina219", "ina220", "ina226", "ina230", "ina231")
INA219_REFRESH_S = 0.0011


@dataclass
class Ina2xxSensor(FileSensor):
    """``power1_input`` of each meter (µW → W)."""

    files: dict[str, Path] = field(default_factory=dict)

    def file_plan(self) -> tuple[FileChannel, ...]:
        return tuple(FileChannel((self.files[channel],), 1e-6) for channel in self.channels)


def probe(root: Path = Path("/")) -> Probe:
    """Find ina2xx meters among the hwmon devices under ``root``."""
    try:
        hwmons = sorted(under(root, HWMON).iterdir(), key=lambda p: p.name)
    except OSError:
        return Probe("ina2xx", reason=f"no {HWMON}")
    files: dict[str, Path] = {}
    intervals = []
    for hwmon in hwmons:
        try:
            chip = (hwmon / "name").read_text(encoding="ascii").strip()
        except OSError:
            continue
        if chip not in CHIPS or not (hwmon / "power1_input").exists():
            continue
        device = Path(os.path.realpath(hwmon)).parent.parent.name  # .../1-0040/hwmon/hwmonN
        files[f"{chip}@{device}"] = hwmon / "power1_input"
        interval = hwmon / "update_interval"
        intervals.append(read_number(interval) / 1e3 if interval.exists() else INA219_REFRESH_S)
    if not files:
        return Probe("ina2xx", reason=f"no {HWMON}/hwmon*/name among {', '.join(CHIPS)} (no external INA219/INA226 meter)")
    rails = tuple(files)
    sensor = Ina2xxSensor("ina2xx", "power", rails, rails, "supply", max(intervals), source=f"{HWMON}/hwmon*/power1_input", files=files)
    return Probe("ina2xx", [sensor])
