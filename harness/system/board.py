"""Which board this is, its operating system and its memory: device tree, L4T release, os-release, meminfo."""

from __future__ import annotations

import platform
import re
from pathlib import Path
from typing import Literal, TypedDict

from harness.system.files import is_file, read_text, under

__all__ = [
    "DeviceKind",
    "OsInfo",
    "capture_os",
    "detect_device",
    "memory_total_bytes",
    "read_device_model",
    "read_nv_tegra_release",
]

DeviceKind = Literal["jetson", "jetson-nano", "rpi4", "rpi5", "gpu-server", "laptop"]

DEVICE_MODEL = "/proc/device-tree/model"
NV_TEGRA_RELEASE = "/etc/nv_tegra_release"
NVIDIA_GPUS = "/proc/driver/nvidia/gpus"  # one folder per GPU (its PCI address) where NVIDIA's driver is loaded


class OsInfo(TypedDict):
    """``pretty_name`` from os-release, kernel ``release`` and ``machine`` (``aarch64``, ``x86_64``)."""

    pretty_name: str | None
    kernel_release: str
    machine: str


def read_device_model(root: Path = Path("/")) -> str | None:
    """The device tree's board name (``Raspberry Pi 5 Model B Rev 1.0``) without its trailing NUL."""
    return read_text(root, DEVICE_MODEL).text or None


def read_nv_tegra_release(root: Path = Path("/")) -> str | None:
    """First line of /etc/nv_tegra_release (``# R35 (release), REVISION: 4.1, ...``) on Jetsons."""
    text = read_text(root, NV_TEGRA_RELEASE).text
    return text.splitlines()[0].strip() if text else None


def detect_device(root: Path = Path("/")) -> DeviceKind:
    """The device family, used to pick a device profile; anything unrecognised is a ``laptop``.

    A Jetson is known by its L4T release file or its device-tree model; an Orin Nano is an Orin, not a
    ``jetson-nano``. Compute Modules and the Pi 400/500 count with the Pi they are built on. Any other
    machine whose NVIDIA driver lists a GPU is a ``gpu-server`` (a data-centre server or a GPU
    workstation: the cloud side of offload, never an edge device).
    """
    model = read_device_model(root) or ""
    if is_file(under(root, NV_TEGRA_RELEASE)) or "NVIDIA Jetson" in model:
        return "jetson-nano" if "Nano" in model and "Orin" not in model else "jetson"
    if re.search(r"Raspberry Pi (Compute Module )?5", model):
        return "rpi5"
    if re.search(r"Raspberry Pi (Compute Module )?4", model):
        return "rpi4"
    gpus = under(root, NVIDIA_GPUS)
    if gpus.is_dir() and any(gpus.iterdir()):
        return "gpu-server"
    return "laptop"


def _os_release_field(text: str, key: str) -> str | None:
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip().strip("\"'") or None
    return None


def capture_os(root: Path = Path("/")) -> tuple[OsInfo, list[str]]:
    """The ``os`` section, and a reason if os-release gives no name.

    The kernel release is read under ``root`` (so fakes can set it), falling back to
    ``platform.release()``; ``machine`` is the running interpreter's.
    """
    release = read_text(root, "/etc/os-release")
    if release.text is None:  # os-release(5): /usr/lib/os-release is the fallback location
        release = read_text(root, "/usr/lib/os-release")
    kernel = read_text(root, "/proc/sys/kernel/osrelease").text or platform.release()
    pretty = _os_release_field(release.text or "", "PRETTY_NAME")
    info = OsInfo(pretty_name=pretty, kernel_release=kernel, machine=platform.machine())
    return info, [] if pretty else [f"os-release: {release.problem or 'no PRETTY_NAME'}"]


def memory_total_bytes(root: Path = Path("/")) -> tuple[int | None, list[str]]:
    """MemTotal from /proc/meminfo in bytes (the file says kB, meaning KiB)."""
    meminfo = read_text(root, "/proc/meminfo")
    match = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo.text or "", re.MULTILINE)
    if match:
        return int(match.group(1)) * 1024, []
    return None, [f"memory: {meminfo.problem or 'no MemTotal line in /proc/meminfo'}"]
