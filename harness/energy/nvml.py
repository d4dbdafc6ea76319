"""NVIDIA GPUs through NVML (``pynvml``, from the ``nvidia-ml-py`` package; ``pip install arbench[energy]``).

Volta and newer have a total-energy counter (mJ since the driver loaded, updated every 20–100 ms): read at
span edges like RAPL. Older GPUs only give power (mW; on Ampere and newer except GA100 a 1 s average), which
the sampler integrates. ``pynvml`` is imported only when probing, so machines without it lose nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.energy.base import Probe, SensorBase, SensorError

__all__ = ["NvmlSensor", "probe"]


@dataclass
class NvmlSensor(SensorBase):
    """GPUs read through one NVML handle each: energy counters (mJ → J) or power (mW → W)."""

    nvml: Any = None
    handles: dict[str, Any] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        values = {}
        for channel, handle in self.handles.items():
            try:
                if self.kind == "counter":
                    values[channel] = self.nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1e3
                else:
                    values[channel] = self.nvml.nvmlDeviceGetPowerUsage(handle) / 1e3
            except self.nvml.NVMLError as exc:
                raise SensorError(f"NVML {channel}: {exc}") from None
        return values

    def close(self) -> None:
        if self.nvml is not None:
            self.nvml.nvmlShutdown()
            self.nvml = None


def probe(root: Any = None) -> Probe:
    """Open NVML and sort GPUs into counter (Volta+) and power-only readers; ``root`` is not used."""
    try:
        import pynvml
    except ImportError:
        return Probe("nvml", reason="pynvml is not installed (pip install arbench[energy], package nvidia-ml-py)")
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError as exc:
        return Probe("nvml", reason=f"NVML cannot start: {exc} (no NVIDIA driver or GPU)")
    counters: dict[str, Any] = {}
    powers: dict[str, Any] = {}
    for index in range(count):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            counters[f"gpu{index}"] = handle
        except pynvml.NVMLError:
            powers[f"gpu{index}"] = handle
    sensors = []
    for kind, handles, refresh_s in (("counter", counters, 0.1), ("power", powers, 0.1)):
        if handles:
            pynvml.nvmlInit()  # NVML counts inits: each reader shuts down its own
            channels = tuple(handles)
            sensors.append(NvmlSensor("nvml", kind, channels, channels, "gpu", refresh_s, source="NVML", nvml=pynvml, handles=handles))
    pynvml.nvmlShutdown()
    return Probe("nvml", sensors, None if sensors else "NVML found no GPU")
