"""The one interface every energy sensor reader implements, the probe result, and the null sensor.

Two kinds of sensor (STYLE 4, reading apart from integrating):

- ``counter``: ``read()`` gives cumulative joules per domain (RAPL ``energy_uj``, NVML total energy); the
  value may wrap at ``wrap_j[domain]``. Counters are read at span edges.
- ``power``: ``read()`` gives instantaneous watts per rail (INA3221, INA2xx, Pi 5 PMIC, tegrastats, NVML
  power); one background sampler reads them and integrates over each span.

A reader converts units at its edge (µJ, mJ, mW, µW, mV × mA → J or W) and raises ``SensorError`` when a
read fails (the file vanished, the driver answered an error): the meter then marks energy partial and the
run goes on. ``total`` names the channels whose sum is the sensor's total without double counting (never
RAPL psys + package + core, never Jetson VDD_IN + its parts); ``scope`` says what that total covers, so
the meter knows which sensors may be added together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = ["SCOPES", "Probe", "Sensor", "SensorBase", "SensorError", "read_number"]

Kind = Literal["counter", "power"]
# What a sensor's total covers. cpu + gpu are disjoint and add up; a board's rails (Jetson INA3221, Pi 5
# PMIC) cover CPU and GPU; an external meter on the supply (INA2xx) covers the whole board.
SCOPES = ("cpu", "gpu", "board", "supply")


class SensorError(Exception):
    """A read failed: the sensor vanished or answered an error (energy becomes partial, never guessed)."""


class Sensor(Protocol):
    """One energy sensor reader.

    ``channels``: domains (counters) or rails (power), in a fixed order. ``refresh_s``: how often the
    hardware value changes, the default sampling period. ``wrap_j``: per counter domain, the value at
    which it wraps to 0 (absent: unknown, a wrap cannot be corrected).
    """

    name: str
    kind: Kind
    channels: tuple[str, ...]
    total: tuple[str, ...]
    scope: str
    refresh_s: float
    wrap_j: dict[str, float]

    def read(self) -> dict[str, float]:
        """Joules (counter, cumulative, as wrapped by the hardware) or watts (power) per channel."""
        ...

    def describe(self) -> dict[str, Any]:
        """What is read, from where, in which units: for the manifest."""
        ...

    def close(self) -> None:
        """Release files, processes and libraries."""
        ...


@dataclass
class SensorBase:
    """Common fields and ``describe``; readers add ``read`` (and ``close`` when they hold something)."""

    name: str
    kind: Kind
    channels: tuple[str, ...]
    total: tuple[str, ...]
    scope: str
    refresh_s: float
    source: str = ""  # where it reads: a sysfs path, a command, a library
    wrap_j: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "sensor": self.name,
            "kind": self.kind,
            "source": self.source,
            "channels": list(self.channels),
            "total": list(self.total),
            "scope": self.scope,
            "refresh_s": self.refresh_s,
            **({"wrap_j": self.wrap_j} if self.wrap_j else {}),
            **({"notes": self.notes} if self.notes else {}),
        }

    def close(self) -> None:
        pass


@dataclass
class Probe:
    """What probing one sensor kind found: readers (possibly several devices) or why there are none."""

    name: str
    sensors: list[Any] = field(default_factory=list)
    reason: str | None = None  # why nothing was found, or a note on what was found (one line)

    @property
    def found(self) -> bool:
        return bool(self.sensors)


def read_number(path: Path) -> float:
    """One number from a sysfs file, opened anew each time so a vanished file shows up; raises SensorError.

    Tolerates the units some drivers append (JetPack 4's ``"350 ma"``).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            raw = os.read(fd, 64)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SensorError(f"cannot read {path}: {exc.strerror or exc}") from None
    text = raw.decode("ascii", "replace").strip().strip("\x00").split()
    try:
        return float(text[0])
    except (IndexError, ValueError):
        raise SensorError(f"{path} holds {raw[:40]!r}, not a number") from None
