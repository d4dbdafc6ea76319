"""Sensors whose readings come from a function of time, with exact energy: for tests and for anyone adding a sensor.

``replay_power`` / ``replay_counter`` read no file; ``CounterFileReplay`` keeps real counter files (a
fake RAPL tree's ``energy_uj``) moving as the analytic energy says; ``SinePower`` is such a trace with a
closed-form integral, so an attribution can be checked against the true joules.
"""

from __future__ import annotations

import bisect
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.energy.base import SensorBase, SensorError

__all__ = ["CounterFileReplay", "ReplayCounterSensor", "ReplayPowerSensor", "SinePower", "replay_counter", "replay_power"]


@dataclass(frozen=True)
class SinePower:
    """An analytic power trace P(t) = mean + amplitude · sin(2π t / period), t in seconds; exact energy."""

    mean_w: float = 12.0
    amplitude_w: float = 4.0
    period_s: float = 0.7

    def power(self, t_s: float) -> float:
        return self.mean_w + self.amplitude_w * math.sin(2 * math.pi * t_s / self.period_s)

    def energy(self, t_s: float) -> float:
        """Cumulative joules since t = 0."""
        omega = 2 * math.pi / self.period_s
        return self.mean_w * t_s + self.amplitude_w / omega * (1 - math.cos(omega * t_s))

    def between(self, start_ns: int, end_ns: int) -> float:
        """Exact joules over a window on the monotonic nanosecond clock."""
        return self.energy(end_ns / 1e9) - self.energy(start_ns / 1e9)


class CounterFileReplay:
    """A thread that updates counter files (``energy_uj``) from analytic cumulative energy, wrapping at ``wrap_uj``.

    Like RAPL, the value changes every ``period_s`` (1 ms); each update replaces the file atomically, keeping
    its mode. ``energy[path](t_s)`` gives joules at monotonic time ``t_s``.
    """

    def __init__(self, energy: Mapping[Path, Callable[[float], float]], wrap_uj: int, period_s: float = 0.001) -> None:
        self.energy, self.wrap_uj, self.period_s = dict(energy), wrap_uj, period_s
        self.written_s: list[float] = []  # when each update was written: under load the thread can lag
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fake-rapl", daemon=True)

    def update(self) -> None:
        t_s = time.monotonic()
        for path, joules in self.energy.items():
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(f"{int(joules(t_s) * 1e6) % self.wrap_uj}\n", encoding="ascii")
            temporary.chmod(path.stat().st_mode & 0o777)
            os.replace(temporary, path)
        self.written_s.append(t_s)

    def in_file_at(self, t_s: float) -> float:
        """The time whose energy the files held at ``t_s`` (the last update before it)."""
        index = bisect.bisect_right(self.written_s, t_s) - 1
        return self.written_s[max(index, 0)]

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.update()

    def __enter__(self) -> CounterFileReplay:
        self.update()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class ReplayPowerSensor(SensorBase):
    """A power sensor whose watts are ``power(clock_s())``; ``vanish()`` makes every later read fail."""

    power: Callable[[float], float] = field(default=lambda t: 0.0)
    clock_s: Callable[[], float] = time.monotonic
    gone: bool = False

    def read(self) -> dict[str, float]:
        if self.gone:
            raise SensorError("replay sensor vanished")
        watts = self.power(self.clock_s())
        return dict.fromkeys(self.channels, watts)

    def vanish(self) -> None:
        self.gone = True


@dataclass
class ReplayCounterSensor(SensorBase):
    """A counter whose joules are ``energy(clock_s())`` modulo ``wrap_j`` of its channel, like a RAPL register."""

    energy: Callable[[float], float] = field(default=lambda t: 0.0)
    clock_s: Callable[[], float] = time.monotonic

    def read(self) -> dict[str, float]:
        joules = self.energy(self.clock_s())
        return {c: round(joules % self.wrap_j[c], 6) if self.wrap_j.get(c) else joules for c in self.channels}


def replay_power(
    power: Callable[[float], float], clock_s: Callable[[], float] = time.monotonic, hz: float = 10.0, scope: str = "board"
) -> ReplayPowerSensor:
    """A one-rail replay power sensor refreshing at ``hz``."""
    return ReplayPowerSensor("replay", "power", ("rail",), ("rail",), scope, 1 / hz, source="replay", power=power, clock_s=clock_s)


def replay_counter(energy: Callable[[float], float], wrap_j: float, clock_s: Callable[[], float] = time.monotonic) -> ReplayCounterSensor:
    """A one-domain replay counter wrapping at ``wrap_j``."""
    channels, wraps = ("package-0",), {"package-0": wrap_j}
    return ReplayCounterSensor("replay", "counter", channels, channels, "cpu", 0.001, "replay", wraps, energy=energy, clock_s=clock_s)
