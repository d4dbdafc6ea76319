"""Raspberry Pi 5 PMIC rails through ``vcgencmd pmic_read_adc``.

Each line is space-padded: ``  VDD_CORE_A current(7)=6.22421000A`` or ``  VDD_CORE_V volt(15)=0.86173300V``;
the ADC indices of a rail's current and voltage differ, so rails are paired by name. ``EXT5V_V`` (the 5 V
input) and ``BATT_V`` have a voltage only: the input power is not measured, so the total is the sum of
the internal rails (not what the wall supplies). The mailbox can return NUL-separated text and ``nan``.
Every read spawns a process (milliseconds on a Pi): the default rate is 10 Hz. The command is injectable
(``run``), so tests feed captured output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.energy.base import Probe, SensorBase, SensorError
from harness.system.tools import find_tool, run_tool

__all__ = ["PmicSensor", "parse_pmic", "probe"]

_LINE = re.compile(r"(\w+)_([AV])\s+(?:current|volt)\(\d+\)=([-+0-9.eE]+|nan)[AV]", re.IGNORECASE)
REFRESH_S = 0.1


def parse_pmic(text: str) -> tuple[dict[str, float], dict[str, float]]:
    """(watts per rail paired by name, volts of voltage-only rails such as EXT5V) from the command's output."""
    amps: dict[str, float] = {}
    volts: dict[str, float] = {}
    for match in _LINE.finditer(text.replace("\x00", "\n")):
        rail, unit, value = match.group(1), match.group(2).upper(), float(match.group(3))
        (amps if unit == "A" else volts)[rail] = value
    watts = {rail: volts[rail] * amps[rail] for rail in amps if rail in volts}
    return watts, {rail: v for rail, v in volts.items() if rail not in amps}


@dataclass
class PmicSensor(SensorBase):
    """Rail powers from one run of the PMIC command per read."""

    run: Callable[[], str] = field(default=lambda: "")
    input_v: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        watts, _ = parse_pmic(self.run())
        missing = [rail for rail in self.channels if rail not in watts or math.isnan(watts[rail])]
        if missing:
            raise SensorError(f"pmic_read_adc gave no reading for {', '.join(missing)}")
        return {rail: watts[rail] for rail in self.channels}

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "input_v": self.input_v}


def _runner(argv: list[str]) -> Callable[[], str]:
    def run() -> str:
        out, why = run_tool(argv, timeout_s=2.0)
        if out is None:
            raise SensorError(why or "pmic_read_adc failed")
        return out

    return run


def probe(root: Path = Path("/"), run: Callable[[], str] | None = None) -> Probe:
    """Probe the PMIC through ``vcgencmd`` under ``root`` (or through ``run``, which returns the output)."""
    if run is None:
        tool = find_tool(root, "vcgencmd")
        if tool is None:
            return Probe("pi5_pmic", reason="no vcgencmd (not a Raspberry Pi)")
        run = _runner([tool, "pmic_read_adc"])
    try:
        watts, input_v = parse_pmic(run())
    except SensorError as exc:
        return Probe("pi5_pmic", reason=f"{exc} (a Pi before the 5 has no PMIC ADC; vcgencmd may need the video group)")
    rails = tuple(sorted(r for r, w in watts.items() if not math.isnan(w)))
    if not rails:
        return Probe("pi5_pmic", reason="vcgencmd pmic_read_adc gave no rail (a Pi before the 5 has no PMIC ADC)")
    note = "internal rails only: the 5 V input (EXT5V) has no current reading, so input power is not measured"
    sensor = PmicSensor("pi5_pmic", "power", rails, rails, "board", REFRESH_S, source="vcgencmd pmic_read_adc", notes=[note], run=run)
    sensor.input_v = input_v
    return Probe("pi5_pmic", [sensor], note)
