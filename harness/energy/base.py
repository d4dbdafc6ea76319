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

import math
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.errors import ArbenchError

__all__ = ["SCOPES", "SYSFS_DEV", "FileChannel", "FileSensor", "OpenFiles", "Probe", "Sensor", "SensorBase", "SensorError", "read_number"]

Kind = Literal["counter", "power"]
# What a sensor's total covers. cpu + gpu are disjoint and add up; a board's rails (Jetson INA3221, Pi 5
# PMIC) cover CPU and GPU; an external meter on the supply (INA2xx) covers the whole board.
SCOPES = ("cpu", "gpu", "board", "supply")


class SensorError(ArbenchError):
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
    open_files: OpenFiles = field(default_factory=lambda: OpenFiles(), repr=False, compare=False)  # noqa: PLW0108 (defined below)

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
        self.open_files.close()


@dataclass(frozen=True)
class FileChannel:
    """A rail read straight from files: watts = ``scale`` × the product of the numbers in ``files``."""

    files: tuple[Path, ...]
    scale: float


@dataclass
class FileSensor(SensorBase, ABC):
    """A power sensor whose rails are plain sysfs files (INA3221, INA2xx).

    ``file_plan`` says which files and in what units, for this ``read`` and for the C sampler thread
    (harness.energy.native), which reads them without Python.
    """

    _plan: tuple[tuple[str, FileChannel], ...] = field(default=(), init=False, repr=False, compare=False)

    @abstractmethod
    def file_plan(self) -> tuple[FileChannel, ...]:
        """One FileChannel per channel, in ``channels`` order."""

    def read(self) -> dict[str, float]:
        if len(self._plan) != len(self.channels):  # built at the first read, once the probe has set the channels
            self._plan = tuple(zip(self.channels, self.file_plan(), strict=True))
        number = self.open_files.number
        return {channel: plan.scale * math.prod(number(path) for path in plan.files) for channel, plan in self._plan}


@dataclass
class Probe:
    """What probing one sensor kind found: readers (possibly several devices) or why there are none."""

    name: str
    sensors: list[Any] = field(default_factory=list)
    reason: str | None = None  # why nothing was found, or a note on what was found (one line)

    @property
    def found(self) -> bool:
        return bool(self.sensors)


class OpenFiles:
    """Sysfs files kept open and re-read from offset 0: one ``pread`` per file and sample.

    A sysfs attribute read at offset 0 runs the driver's ``show`` again, so an open descriptor gives fresh
    values. Opening, reading and closing each time costs three system calls and a path walk per file, and
    every system call lets the pipeline thread take the GIL back, so the sampler waits for it again: at
    100 Hz over six rails that was most of the sampler's CPU time. A file that vanished still shows up: a
    removed sysfs attribute answers ``ENODEV``; on any other filesystem (fake trees, which replace files
    atomically) each read also checks the link count and opens the path again when the file was unlinked
    or replaced, which fails if it is gone.
    """

    def __init__(self) -> None:
        self._fds: dict[Path, tuple[int, bool]] = {}  # path → (descriptor, whether to check its link count)

    def number(self, path: Path) -> float:
        """The number in ``path`` now; raises SensorError when it cannot be read."""
        try:
            fd, check = self._fds.get(path) or self._open(path)
            if check and os.fstat(fd).st_nlink == 0:
                self._drop(path)
                fd, check = self._open(path)
            raw = os.pread(fd, READ_BYTES, 0)
        except OSError as exc:
            self._drop(path)
            raise SensorError(f"cannot read {path}: {exc.strerror or exc}") from None
        return parse_number(path, raw)

    def _open(self, path: Path) -> tuple[int, bool]:
        fd = os.open(path, os.O_RDONLY)
        self._fds[path] = entry = (fd, os.fstat(fd).st_dev != SYSFS_DEV)
        return entry

    def _drop(self, path: Path) -> None:
        entry = self._fds.pop(path, None)
        if entry is not None:
            os.close(entry[0])

    def close(self) -> None:
        for path in list(self._fds):
            self._drop(path)


READ_BYTES = 64  # a sysfs number is far shorter: a file this long or longer does not hold one
_BLANKS = b" \t\n\r\v\f\x00"
_NUMBER = re.compile(rb"[ \t\n\r\v\f\x00]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:[ \t\n\r\v\f\x00]|$)")


def _sysfs_dev() -> int:
    try:
        return os.stat("/sys/class").st_dev
    except OSError:
        return -1


SYSFS_DEV = _sysfs_dev()  # files on this device are sysfs attributes: a removed one answers ENODEV


def read_number(path: Path) -> float:
    """One number from a sysfs file, opened anew (probing, one-off reads); raises SensorError."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            raw = os.read(fd, READ_BYTES)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SensorError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_number(path, raw)


def parse_number(path: Path, raw: bytes) -> float:
    """The decimal number that starts a sysfs file's bytes; raises SensorError when there is none.

    Blanks and NULs around it are skipped and a unit may follow after a blank (JetPack 4's ``"350 ma"``);
    hexadecimal, ``inf``/``nan`` and files of ``READ_BYTES`` or more (cut short) are not numbers. The C
    sampler (harness/energy/_filesampler.c) accepts exactly the same.
    """
    match = _NUMBER.match(raw) if len(raw) < READ_BYTES else None
    value = float(match.group(1)) if match else math.nan
    if not math.isfinite(value):
        text = raw[:40].decode("ascii", "replace").strip(_BLANKS.decode())
        raise SensorError(f"{path} holds {text!r}, not a number")
    return value
