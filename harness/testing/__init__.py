"""Fakes shipped with the package, for arbench's tests and for anyone adding a backend, a sensor or a figure.

- ``system_tree``: fake /proc, /sys and /etc trees of real boards (``[energy] root``, system capture);
- ``sensor_trees``: fake energy-sensor trees laid out exactly as RAPL, INA3221 (JetPack 4 and 5+),
  INA219/226 and the Pi 5 PMIC write them;
- ``replay``: sensors whose readings are a function of time, with exact energy;
- ``backends``: OCR and MT backends that fail, hang or flap on cue (registered as plugins in tests);
- ``experiments``: experiment files built from a few keyword arguments.

Hardware is faked at its boundary only (files, executables); everything above it is the real code.
"""

from harness.testing.replay import CounterFileReplay, ReplayCounterSensor, ReplayPowerSensor, SinePower, replay_counter, replay_power
from harness.testing.sensor_trees import (
    AGX_ORIN,
    NANO_RAILS,
    ORIN_NX,
    PI5_PMIC_OUTPUT,
    FakeRapl,
    build_fake_ina2xx_tree,
    build_fake_jetson_hwmon_tree,
    build_fake_jetson_iio_tree,
    build_fake_jetson_tools,
    build_fake_rapl_tree,
    build_fake_tegrastats,
    build_fake_vcgencmd,
)
from harness.testing.system_tree import build_fake_system_tree

__all__ = [
    "AGX_ORIN",
    "NANO_RAILS",
    "ORIN_NX",
    "PI5_PMIC_OUTPUT",
    "CounterFileReplay",
    "FakeRapl",
    "ReplayCounterSensor",
    "ReplayPowerSensor",
    "SinePower",
    "build_fake_ina2xx_tree",
    "build_fake_jetson_hwmon_tree",
    "build_fake_jetson_iio_tree",
    "build_fake_jetson_tools",
    "build_fake_rapl_tree",
    "build_fake_system_tree",
    "build_fake_tegrastats",
    "build_fake_vcgencmd",
    "replay_counter",
    "replay_power",
]
