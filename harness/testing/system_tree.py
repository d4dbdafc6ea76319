"""Fake /proc, /sys and /etc trees of real boards (Jetsons, Raspberry Pis, an x86 laptop) for ``[energy] root`` and system capture."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.testing.files import link as _link
from harness.testing.files import write as _write

__all__ = ["build_fake_system_tree"]


# --- fake /proc, /sys and /etc trees -------------------------------------------------------------------
# Layouts and values copied from real boards: sysfs values end in a newline, the device-tree model ends
# in a NUL, cpuN/cpufreq and thermal zones are symlinks into the device tree as on a live kernel.


@dataclass(frozen=True)
class _Board:
    """What one kind of machine writes; ARM boards describe cores by implementer/part, not by name."""

    arm: bool
    cpu_part: str
    cpu_variant: str
    model_name: str | None
    min_khz: int
    max_khz: int
    mem_total_kb: int
    os_pretty: str
    kernel: str
    thermal_types: tuple[str, ...]
    cluster_size: int = 4
    tegra_release: str | None = None
    pi_trailer: tuple[tuple[str, str], ...] = ()


_R35 = "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023"
_R32 = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022"
_BOOKWORM = "Debian GNU/Linux 12 (bookworm)"

_ORIN = _Board(
    True, "0xd42", "0x1", None, 115200, 2201600, 30536092, "Ubuntu 20.04.6 LTS", "5.10.120-tegra",
    ("cpu-thermal", "gpu-thermal", "cv0-thermal", "soc0-thermal", "tj-thermal"), tegra_release=_R35,
)  # fmt: skip
_NANO = _Board(
    True, "0xd07", "0x1", "ARMv8 Processor rev 1 (v8l)", 102000, 1479000, 4059712, "Ubuntu 18.04.6 LTS",
    "4.9.337-tegra", ("AO-therm", "CPU-therm", "GPU-therm", "PLL-therm", "PMIC-Die"), tegra_release=_R32,
)  # fmt: skip
_PI5 = _Board(
    True, "0xd0b", "0x4", None, 1500000, 2400000, 8245968, _BOOKWORM, "6.6.51+rpt-rpi-2712",
    ("cpu-thermal",), pi_trailer=(("Revision", "d04170"), ("Serial", "b7e1cd2a9f3c4e05")),
)  # fmt: skip
_PI4 = _Board(
    True, "0xd08", "0x0", None, 600000, 1800000, 3881196, _BOOKWORM, "6.6.51+rpt-rpi-v8", ("cpu-thermal",),
    pi_trailer=(("Hardware", "BCM2835"), ("Revision", "c03114"), ("Serial", "10000000a3e5b7c9")),
)  # fmt: skip
_ARM_GENERIC = _Board(
    True, "0xd05", "0x2", None, 408000, 1800000, 3960000, _BOOKWORM, "6.1.0-13-arm64", ("soc-thermal",)
)  # fmt: skip
_LAPTOP = _Board(
    False, "", "", "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", 400000, 4700000, 16104440,
    "Ubuntu 22.04.4 LTS", "6.5.0-41-generic", ("acpitz", "x86_pkg_temp"), cluster_size=1,
)  # fmt: skip


def _board_for(device_model: str | None, tegra: bool) -> _Board:
    model = device_model or ""
    if tegra or "Jetson" in model:
        return _NANO if "Nano" in model and "Orin" not in model else _ORIN
    if re.search(r"Raspberry Pi (Compute Module )?5", model):
        return _PI5
    if "Raspberry Pi" in model:
        return _PI4
    return _ARM_GENERIC if device_model else _LAPTOP


def _arm_cpuinfo(board: _Board, cpus: int, device_model: str | None) -> str:
    blocks = []
    for n in range(cpus):
        name = f"model name\t: {board.model_name}\n" if board.model_name else ""
        blocks.append(
            f"processor\t: {n}\n{name}BogoMIPS\t: 108.00\n"
            "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm\n"
            f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: {board.cpu_variant}\n"
            f"CPU part\t: {board.cpu_part}\nCPU revision\t: 1\n"
        )
    pairs = [*board.pi_trailer, *([("Model", device_model)] if board.pi_trailer and device_model else [])]
    trailer = [f"{key}{_tabs(key)}: {value}" for key, value in pairs]
    return "\n".join(blocks) + ("\n" + "\n".join(trailer) + "\n" if trailer else "")


def _tabs(key: str) -> str:
    """Padding that puts the colon at the second tab stop, as /proc/cpuinfo does."""
    return "\t" if len(key) >= 8 else "\t\t"


def _x86_cpuinfo(board: _Board, cpus: int) -> str:
    cores = _x86_cores(cpus)
    return "\n".join(
        f"processor\t: {n}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 140\n"
        f"model name\t: {board.model_name}\nstepping\t: 1\ncpu MHz\t\t: 2800.000\ncache size\t: 12288 KB\n"
        f"physical id\t: 0\nsiblings\t: {cpus}\ncore id\t\t: {n % cores}\ncpu cores\t: {cores}\n"
        f"apicid\t\t: {n}\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep ht avx2 avx512f\n"
        "bogomips\t: 5606.40\nclflush size\t: 64\naddress sizes\t: 39 bits physical, 48 bits virtual\n"
        "power management:\n"
        for n in range(cpus)
    )


def _x86_cores(cpus: int) -> int:
    """Two hyperthreads per core when the count allows; Linux numbers the second threads last."""
    return cpus // 2 if cpus >= 2 and cpus % 2 == 0 else cpus


def _topology(board: _Board, cpus: int, n: int) -> tuple[str, int, int]:
    """(thread_siblings_list, core_id, physical_package_id) of cpu ``n``; ARM clusters count as packages."""
    if board.arm:
        return str(n), n % board.cluster_size, n // board.cluster_size
    cores = _x86_cores(cpus)
    core = n % cores
    return (str(n) if cores == cpus else f"{core},{core + cores}"), core, 0


def _write_cpus(root: Path, board: _Board, cpus: int, governor: str | None) -> None:
    base = "/sys/devices/system/cpu"
    span = f"0-{cpus - 1}\n" if cpus > 1 else "0\n"
    for name in ("online", "possible", "present"):
        _write(root, f"{base}/{name}", span)
    for n in range(cpus):
        if n > 0:  # cpu0 cannot be unplugged and has no online file
            _write(root, f"{base}/cpu{n}/online", "1\n")
        topology = f"{base}/cpu{n}/topology"
        siblings, core, package = _topology(board, cpus, n)
        _write(root, f"{topology}/thread_siblings_list", f"{siblings}\n")
        _write(root, f"{topology}/core_id", f"{core}\n")
        _write(root, f"{topology}/physical_package_id", f"{package}\n")
        if governor is not None:
            policy = n - n % board.cluster_size
            _link(root, f"{base}/cpu{n}/cpufreq", f"../cpufreq/policy{policy}")
    if governor is not None:
        for policy in range(0, cpus, board.cluster_size):
            _write_policy(root, board, f"{base}/cpufreq/policy{policy}", governor, cpus)


def _write_policy(root: Path, board: _Board, path: str, governor: str, cpus: int) -> None:
    first = int(path.rsplit("policy", 1)[1])
    members = " ".join(str(n) for n in range(first, min(first + board.cluster_size, cpus)))
    cur = {"performance": board.max_khz, "powersave": board.min_khz}.get(governor, board.min_khz)
    values = {
        "scaling_governor": governor,
        "scaling_available_governors": "conservative ondemand userspace powersave performance schedutil",
        "scaling_cur_freq": cur,
        "scaling_min_freq": board.min_khz,
        "scaling_max_freq": board.max_khz,
        "cpuinfo_min_freq": board.min_khz,
        "cpuinfo_max_freq": board.max_khz,
        "affected_cpus": members,
        "related_cpus": members,
    }
    for name, value in values.items():
        _write(root, f"{path}/{name}", f"{value}\n")


def _write_thermal(root: Path, board: _Board, thermal_c: Sequence[float]) -> None:
    for n, celsius in enumerate(thermal_c):
        kind = board.thermal_types[n] if n < len(board.thermal_types) else f"zone{n}-thermal"
        device = f"/sys/devices/virtual/thermal/thermal_zone{n}"
        _write(root, f"{device}/type", f"{kind}\n")
        _write(root, f"{device}/temp", f"{round(celsius * 1000)}\n")
        _write(root, f"{device}/mode", "enabled\n")
        _link(root, f"/sys/class/thermal/thermal_zone{n}", f"../../devices/virtual/thermal/thermal_zone{n}")


def _write_nvidia_gpus(root: Path, count: int) -> None:
    """NVIDIA's driver's /proc/driver/nvidia/gpus/<PCI address>/information, one per GPU."""
    for index in range(count):
        bus = f"0000:{0x18 + index:02x}:00.0"
        fields = [("Model", "NVIDIA H100 80GB HBM3"), ("IRQ", str(150 + index)), ("GPU UUID", f"GPU-{index:08x}-0000-0000-0000-0000"),
                  ("Video BIOS", "96.00.99.00.01"), ("Bus Type", "PCIe"), ("DMA Size", "52 bits"), ("DMA Mask", "0xfffffffffffff"),
                  ("Bus Location", bus), ("Device Minor", str(index)), ("GPU Excluded", "No")]  # fmt: skip
        _write(root, f"/proc/driver/nvidia/gpus/{bus}/information", "".join(f"{key}: \t {value}\n" for key, value in fields))


def _write_identity(root: Path, board: _Board, cpus: int, device_model: str | None, tegra: bool) -> None:
    info = _arm_cpuinfo(board, cpus, device_model) if board.arm else _x86_cpuinfo(board, cpus)
    _write(root, "/proc/cpuinfo", info)
    mem = [("MemTotal", board.mem_total_kb), ("MemFree", board.mem_total_kb // 2),
           ("MemAvailable", board.mem_total_kb * 3 // 4), ("SwapTotal", 0), ("SwapFree", 0)]  # fmt: skip
    _write(root, "/proc/meminfo", "".join(f"{key + ':':<16}{kb:>8} kB\n" for key, kb in mem))
    _write(root, "/proc/sys/kernel/osrelease", f"{board.kernel}\n")
    _write(root, "/usr/lib/os-release", f'PRETTY_NAME="{board.os_pretty}"\nNAME="{board.os_pretty}"\n')
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    if device_model is not None:  # /proc/device-tree is a link to the firmware's flattened tree
        _write(root, "/sys/firmware/devicetree/base/model", device_model.encode() + b"\x00")
        _link(root, "/proc/device-tree", "../sys/firmware/devicetree/base")
    if tegra:
        extra = "# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n"
        _write(root, "/etc/nv_tegra_release", f"{board.tegra_release or _R35}\n{extra}")


def build_fake_system_tree(
    root: Path,
    *,
    cpus: int = 4,
    device_model: str | None = None,
    tegra: bool = False,
    nvidia_gpus: int = 0,
    governor: str | None = "schedutil",
    thermal_c: Sequence[float] = (45.0,),
) -> Path:
    """Write a fake /proc, /sys and /etc under ``root`` and return ``root``.

    The board is chosen from ``device_model`` (``"Raspberry Pi 5 Model B Rev 1.0"``,
    ``"NVIDIA Jetson Nano Developer Kit"``) and ``tegra`` (writes /etc/nv_tegra_release); with neither it is
    an x86 laptop with two threads per core. ``nvidia_gpus`` adds NVIDIA's driver's /proc entries for that
    many GPUs (a GPU server). ``governor=None`` leaves out cpufreq, as in a virtual machine;
    ``thermal_c`` gives one zone per temperature in °C (empty: no thermal zones). ``root`` must not yet
    contain a tree.
    """
    board = _board_for(device_model, tegra)
    _write_identity(root, board, cpus, device_model, tegra)
    _write_nvidia_gpus(root, nvidia_gpus)
    _write_cpus(root, board, cpus, governor)
    _write_thermal(root, board, thermal_c)
    return root
