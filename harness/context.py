"""What a backend may know about the machine it runs on, taken from the device profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.devices import DeviceProfile

__all__ = ["BackendContext"]


@dataclass(frozen=True)
class BackendContext:
    """Per-backend runtime settings taken from the device profile.

    ``threads``: compute threads the device profile allots (0: the runtime's default).
    ``providers``: ONNX Runtime execution providers in order of preference.
    ``camera``: the profile's camera (index, device node or GStreamer pipeline) for camera sources.
    """

    threads: int = 0
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    camera: str = "0"

    @classmethod
    def from_device(cls, device: DeviceProfile) -> BackendContext:
        """The context a device profile gives its backends."""
        return cls(threads=device.threads, providers=device.providers, camera=device.camera)
