"""A fake ``pynvml`` with the real module's shapes and units, for NVML readers tested without a GPU."""

from __future__ import annotations

import types
from typing import Any


def fake_pynvml(energy_mj: dict[int, Any], power_mw: dict[int, Any], arch: int = 7) -> types.ModuleType:
    """pynvml's shapes and units: handles by index, energy in mJ and power in mW as ints (or callables of nothing),
    names as str, clocks in MHz, the enforced power limit in mW; NVMLError for what a GPU does not support."""
    module = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    module.NVMLError = NVMLError
    module.NVML_CLOCK_SM, module.NVML_CLOCK_MEM = 1, 2
    module.inits = 0
    module.nvmlInit = lambda: setattr(module, "inits", module.inits + 1)
    module.nvmlShutdown = lambda: setattr(module, "inits", module.inits - 1)
    module.nvmlDeviceGetCount = lambda: len(power_mw)
    module.nvmlDeviceGetHandleByIndex = lambda i: i

    def value(table: dict[int, Any], handle: int) -> int:
        if handle not in table:
            raise NVMLError("Not Supported")
        entry = table[handle]
        return int(entry() if callable(entry) else entry)

    module.nvmlDeviceGetTotalEnergyConsumption = lambda handle: value(energy_mj, handle)
    module.nvmlDeviceGetPowerUsage = lambda handle: value(power_mw, handle)
    module.nvmlDeviceGetName = lambda handle: f"NVIDIA H200 #{handle}"
    module.nvmlDeviceGetArchitecture = lambda handle: arch
    module.nvmlDeviceGetClockInfo = lambda handle, kind: {1: 1980, 2: 3201}[kind]
    module.nvmlDeviceGetMaxClockInfo = lambda handle, kind: {1: 1980, 2: 3201}[kind]
    module.nvmlDeviceGetEnforcedPowerLimit = lambda handle: 700_000
    return module
