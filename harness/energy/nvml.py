"""NVIDIA GPUs through NVML (``pynvml``, from the ``nvidia-ml-py`` package; ``pip install arbench[energy]``).

Volta and newer have a total-energy counter (mJ since the driver loaded, updated every 20–100 ms): read at
span edges like RAPL. Older GPUs only give power (mW; on Ampere and newer except GA100 a 1 s average), which
the sampler integrates. Where the counter exists, power is sampled too, as a check that is never added to
the total (``nvml-power``, ``total`` empty): ``counter_power_agreement`` compares the two over a
configuration's frames. Each GPU's name, architecture, clocks (current and maximum SM and memory, MHz),
enforced power limit (W) and what ``nvmlDeviceGetPowerUsage`` averages over are recorded in the sensor's
description for the manifest. ``pynvml`` is imported only when probing, so machines without it lose nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.energy.base import Probe, SensorBase, SensorError

__all__ = ["AGREEMENT_TOLERANCE", "NvmlSensor", "counter_power_agreement", "gpu_state", "probe"]

# Counter and integrated power over a configuration's measured frames must agree this closely: the counter
# moves every 20-100 ms and power is a 1 s running average on Ampere and newer, so single frames differ
# more, but seconds of frames should not.
AGREEMENT_TOLERANCE = 0.10
AMPERE = 7  # NVML_DEVICE_ARCH_AMPERE


@dataclass
class NvmlSensor(SensorBase):
    """GPUs read through one NVML handle each: energy counters (mJ → J) or power (mW → W)."""

    nvml: Any = None
    handles: dict[str, Any] = field(default_factory=dict)
    gpus: dict[str, dict[str, Any]] = field(default_factory=dict)  # gpu_state per channel, at probe time

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "gpus": self.gpus}

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


def _ask(call: Any, *args: Any) -> Any:
    """One NVML query, None when this GPU or driver does not support it."""
    try:
        value = call(*args)
    except Exception:  # noqa: BLE001 - NVMLError and its many subclasses, or a function this pynvml lacks
        return None
    return value.decode() if isinstance(value, bytes) else value


def gpu_state(nvml: Any, handle: Any) -> dict[str, Any]:
    """Name, architecture, clocks (MHz), enforced power limit (W) and the power reading's averaging, for the manifest."""
    clock = getattr(nvml, "NVML_CLOCK_SM", 1), getattr(nvml, "NVML_CLOCK_MEM", 2)
    arch = _ask(getattr(nvml, "nvmlDeviceGetArchitecture", None), handle)
    limit_mw = _ask(getattr(nvml, "nvmlDeviceGetEnforcedPowerLimit", None), handle)
    if arch is None:
        averaging = "unknown (architecture not reported): instantaneous before Ampere, a 1 s average on Ampere and newer except GA100"
    elif arch >= AMPERE:
        averaging = "1 s running average (Ampere and newer; GA100 reports instantaneous power)"
    else:
        averaging = "instantaneous (before Ampere)"
    return {
        "name": _ask(getattr(nvml, "nvmlDeviceGetName", None), handle),
        "architecture": arch,
        "sm_clock_mhz": _ask(getattr(nvml, "nvmlDeviceGetClockInfo", None), handle, clock[0]),
        "mem_clock_mhz": _ask(getattr(nvml, "nvmlDeviceGetClockInfo", None), handle, clock[1]),
        "max_sm_clock_mhz": _ask(getattr(nvml, "nvmlDeviceGetMaxClockInfo", None), handle, clock[0]),
        "max_mem_clock_mhz": _ask(getattr(nvml, "nvmlDeviceGetMaxClockInfo", None), handle, clock[1]),
        "power_limit_w": None if limit_mw is None else limit_mw / 1e3,
        "power_averaging": averaging,
    }


def counter_power_agreement(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per GPU: the counter's joules and integrated power's joules summed over measured frames' e2e, and their ratio.

    Only GPUs with both (``nvml:gpuN`` and ``nvml-power:gpuN`` domains) and frames where both were read.
    """
    sums: dict[str, list[float]] = {}
    for record in records:
        if record.get("warmup") or not record.get("ok", True):
            continue
        domains = ((record.get("energy") or {}).get("e2e") or {}).get("domains") or {}
        for key, counter in domains.items():
            if not key.startswith("nvml:"):
                continue
            power = domains.get(f"nvml-power:{key[5:]}")
            if counter is not None and power is not None:
                pair = sums.setdefault(key[5:], [0.0, 0.0])
                pair[0] += counter
                pair[1] += power
    return {gpu: {"counter_j": c, "integrated_j": p, "ratio": p / c if c else float("nan")} for gpu, (c, p) in sums.items()}


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
    for name, kind, handles, counted in (("nvml", "counter", counters, True), ("nvml", "power", powers, True),
                                         ("nvml-power", "power", counters, False)):  # fmt: skip
        if handles:
            pynvml.nvmlInit()  # NVML counts inits: each reader shuts down its own
            channels = tuple(handles)
            notes = [] if counted else ["a check on the energy counter: sampled power of the same GPUs, never in the total"]
            gpus = {channel: gpu_state(pynvml, handle) for channel, handle in handles.items()}
            total = channels if counted else ()
            sensor = NvmlSensor(
                name, kind, channels, total, "gpu", 0.1, source="NVML", notes=notes, nvml=pynvml, handles=handles, gpus=gpus
            )
            sensors.append(sensor)
    pynvml.nvmlShutdown()
    return Probe("nvml", sensors, None if sensors else "NVML found no GPU")
