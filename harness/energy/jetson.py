"""Jetson INA3221 rails: JetPack 4 (``ina3221x`` IIO driver) and JetPack 5/6 (upstream ``ina3221`` hwmon).

JetPack 4: /sys/bus/i2c/drivers/ina3221x/<bus>-<addr>/iio:deviceN/ with ``rail_name_N`` and
``in_powerN_input`` (mW); limit files end in " ma". JetPack 5+: /sys/bus/i2c/drivers/ina3221/<bus>-<addr>/
hwmon/hwmonN/ (N is not stable across boots) with ``inN_label``, ``inN_input`` (mV) and ``currN_input`` (mA),
no power file: P = V × I. Channels labelled ``NC`` are not connected and the summation channel ``in7`` is
not a rail; both are skipped.

The input rail (``VDD_IN`` on Orin NX/Nano, ``POM_5V_IN`` on Nano/TX) already includes the others, so it
alone is the total; where there is none (AGX Orin) the rails are summed, as jtop does. Onboard rails
exclude the carrier board.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.energy.base import FileChannel, FileSensor, Probe, read_number
from harness.system.files import under

__all__ = ["INPUT_RAILS", "Ina3221Sensor", "probe"]

JP4_DRIVER = "/sys/bus/i2c/drivers/ina3221x"
JP5_DRIVER = "/sys/bus/i2c/drivers/ina3221"
INPUT_RAILS = ("VDD_IN", "POM_5V_IN")
JP4_REFRESH_S = 0.422  # 64 averages × (1.1 ms bus + 1.1 ms shunt) × 3 channels: the driver's default continuous mode


@dataclass
class Ina3221Sensor(FileSensor):
    """Rails of one or more INA3221s: ``power`` files (mW, JP4) or (mV file, mA file) pairs (JP5+)."""

    power_files: dict[str, Path] = field(default_factory=dict)
    vi_files: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    limits_ma: dict[str, float] = field(default_factory=dict)

    def file_plan(self) -> tuple[FileChannel, ...]:
        plan = {rail: FileChannel((path,), 1e-3) for rail, path in self.power_files.items()}  # mW
        plan |= {rail: FileChannel(pair, 1e-6) for rail, pair in self.vi_files.items()}  # mV × mA
        return tuple(plan[channel] for channel in self.channels)

    def describe(self) -> dict[str, object]:
        extra = {"crit_current_limit_ma": self.limits_ma} if self.limits_ma else {}
        return {**super().describe(), **extra}


def _children(path: Path, pattern: str) -> list[Path]:
    try:
        return sorted((p for p in path.iterdir() if re.fullmatch(pattern, p.name)), key=lambda p: p.name)
    except OSError:
        return []


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip().strip("\x00")
    except OSError:
        return None


def _connected(label: str | None) -> bool:
    return bool(label) and label.upper() != "NC"  # type: ignore[union-attr]


def _unique(rails: dict[str, object], label: str, device: Path) -> str:
    return label if label not in rails else f"{label}@{device.name}"


def _jp4(root: Path, sensor: Ina3221Sensor) -> None:
    for device in _children(under(root, JP4_DRIVER), r"\d+-[0-9a-f]{4}"):
        for iio in _children(device, r"iio:device\d+"):
            for n in range(3):
                label = _text(iio / f"rail_name_{n}")
                if not _connected(label) or not (iio / f"in_power{n}_input").exists():
                    continue
                rail = _unique(sensor.power_files, label, device)  # type: ignore[arg-type]
                sensor.power_files[rail] = iio / f"in_power{n}_input"
                crit = iio / f"crit_current_limit_{n}"
                if crit.exists():
                    sensor.limits_ma[rail] = read_number(crit)  # "%d ma\n": the unit suffix is skipped
    if sensor.power_files:
        sensor.source, sensor.refresh_s = f"{JP4_DRIVER}/*/iio:device*/in_power*_input", JP4_REFRESH_S


def _jp5(root: Path, sensor: Ina3221Sensor) -> None:
    intervals = []
    for device in _children(under(root, JP5_DRIVER), r"\d+-[0-9a-f]{4}"):
        for hwmon in _children(device / "hwmon", r"hwmon\d+"):
            for n in (1, 2, 3):  # in4-6 are shunt voltages, in7 the summation channel
                label = _text(hwmon / f"in{n}_label")
                if not _connected(label) or _text(hwmon / f"in{n}_enable") == "0":
                    continue
                rail = _unique(sensor.vi_files, label, device)  # type: ignore[arg-type]
                sensor.vi_files[rail] = (hwmon / f"in{n}_input", hwmon / f"curr{n}_input")
            interval = _text(hwmon / "update_interval")
            if interval and interval.isdigit():
                intervals.append(int(interval) / 1e3)
    if sensor.vi_files:
        sensor.source = f"{JP5_DRIVER}/*/hwmon/hwmon*/in*_input × curr*_input"
        sensor.refresh_s = max(intervals, default=0.1) or 0.1


def probe(root: Path = Path("/")) -> Probe:
    """Find INA3221 rails of either JetPack generation under ``root``."""
    sensor = Ina3221Sensor("ina3221", "power", (), (), "board", 0.1)
    _jp4(root, sensor)
    if not sensor.power_files:
        _jp5(root, sensor)
    rails = tuple([*sensor.power_files, *sensor.vi_files])
    if not rails:
        return Probe("ina3221", reason=f"no {JP4_DRIVER} (JetPack 4) or {JP5_DRIVER} (JetPack 5+) rails: not a Jetson")
    sensor.channels = rails
    inputs = [r for r in rails if r in INPUT_RAILS]
    sensor.total = tuple(inputs[:1]) or rails
    if not inputs:
        sensor.notes.append("no input rail (VDD_IN / POM_5V_IN): the total is the sum of the rails, carrier board excluded")
    return Probe("ina3221", [sensor])
