"""``[energy]`` of an experiment: which sensors, how often, the idle baseline, telemetry (docs/energy.md)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ConfigError
from harness.tables import choice

__all__ = ["EnergySettings"]


@dataclass(frozen=True)
class EnergySettings:
    """``[energy]``: energy sensors and telemetry (harness.energy, docs/energy.md).

    ``sensors``: "auto" (every kind found here) or a list of names (rapl, nvml, ina3221, tegrastats,
    ina2xx, pi5_pmic, pyrapl). ``sample_hz``: power-sensor sampling rate, 0 for what each sensor refreshes
    at (at most 100 Hz). ``idle_s``: idle baseline measured before each configuration (0: none, so no net
    energy). ``telemetry_hz``: frequency/utilization/temperature/RSS samples (0: off). ``root``: where
    /sys and /proc are read, a fake tree in tests (harness.testing). ``native_sampler``: read file-backed
    power sensors (INA3221, INA2xx) from the C thread of harness.energy.native where it is built (false:
    the Python sampler thread, as every other sensor).
    """

    enabled: bool = True
    sensors: str | tuple[str, ...] = "auto"
    sample_hz: float = 0.0
    idle_s: float = 3.0
    telemetry_hz: float = 2.0
    root: str = "/"
    native_sampler: bool = True

    def __post_init__(self) -> None:
        from harness.energy.registry import SENSOR_PROBES

        names = (self.sensors,) if isinstance(self.sensors, str) else tuple(self.sensors)
        object.__setattr__(self, "sensors", names)
        if names != ("auto",):
            for name in names:
                choice(name, SENSOR_PROBES, "[energy] sensors")
        if self.sample_hz < 0 or self.idle_s < 0 or self.telemetry_hz < 0:
            raise ConfigError("[energy]: sample_hz, idle_s and telemetry_hz must be >= 0")
