"""CPU identity, topology and frequency-scaling state, from /proc/cpuinfo and the cpufreq sysfs tree.

Frequencies are kHz as the kernel writes them. Per-CPU values are lists aligned with ``ids`` (the
``cpuN`` directories present); a value that could not be read is ``None`` and ``unavailable`` says why.
Offline CPUs (Jetson nvpmodel modes unplug cores) have no cpufreq directory; that is not reported.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Any

from harness.system.cpuid import CPUID_FEATURES, cpuid_features
from harness.system.files import is_dir, read_int, read_text, under
from harness.system.isa import KERNEL_FEATURES, int8_kernels, isa_label, simd_features

__all__ = ["capture_cpu", "cpu_model", "parse_cpu_list", "parse_cpuinfo"]

CPU_DIR = "/sys/devices/system/cpu"

# field in the result -> file in cpuN/cpufreq/
_FREQ_FILES: dict[str, str] = {
    "cur_freq_khz": "scaling_cur_freq",
    "min_freq_khz": "cpuinfo_min_freq",
    "max_freq_khz": "cpuinfo_max_freq",
    "scaling_min_freq_khz": "scaling_min_freq",
    "scaling_max_freq_khz": "scaling_max_freq",
}

# (CPU implementer, CPU part) from arm64 /proc/cpuinfo, which has no "model name" of its own.
_ARM_CORES: dict[tuple[str, str], str] = {
    ("0x41", "0xd03"): "Cortex-A53",
    ("0x41", "0xd04"): "Cortex-A35",
    ("0x41", "0xd05"): "Cortex-A55",
    ("0x41", "0xd07"): "Cortex-A57",
    ("0x41", "0xd08"): "Cortex-A72",
    ("0x41", "0xd09"): "Cortex-A73",
    ("0x41", "0xd0a"): "Cortex-A75",
    ("0x41", "0xd0b"): "Cortex-A76",
    ("0x41", "0xd0c"): "Neoverse-N1",
    ("0x41", "0xd0d"): "Cortex-A77",
    ("0x41", "0xd41"): "Cortex-A78",
    ("0x41", "0xd42"): "Cortex-A78AE",
    ("0x41", "0xd44"): "Cortex-X1",
    ("0x41", "0xd46"): "Cortex-A510",
    ("0x41", "0xd47"): "Cortex-A710",
    ("0x41", "0xd4b"): "Cortex-A78C",
    ("0x4e", "0x004"): "NVIDIA Carmel",
}


def parse_cpuinfo(text: str) -> list[dict[str, str]]:
    """/proc/cpuinfo as one dict per blank-line-separated block (per CPU; Pis add a board block)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not line.strip() or not sep:
            if current and not line.strip():
                blocks.append(current)
                current = {}
            continue
        current.setdefault(key.strip(), value.strip())
    if current:
        blocks.append(current)
    return blocks


def cpu_model(blocks: list[dict[str, str]]) -> str | None:
    """The CPU's name, such as ``Cortex-A76`` or ``11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz``.

    Arm core names come first (arm64 "model name", where present, only says "ARMv8 Processor"), then
    x86 "model name", then the Pi's "Hardware"/"Model" lines, then what ``platform`` knows.
    """
    cores = _arm_core_names(blocks)
    if cores:
        return " + ".join(cores)
    for key in ("model name", "Hardware", "Model"):
        value = next((b[key] for b in blocks if b.get(key)), None)
        if value:
            return value
    return platform.processor() or platform.machine() or None


def _arm_core_names(blocks: list[dict[str, str]]) -> list[str]:
    names: list[str] = []
    for block in blocks:
        key = (block.get("CPU implementer", "").lower(), block.get("CPU part", "").lower())
        name = _ARM_CORES.get(key)
        if name and name not in names:
            names.append(name)
    return names


def parse_cpu_list(text: str) -> set[int]:
    """A kernel CPU list such as ``0-3,8-11`` as a set of ids; malformed parts are skipped."""
    ids: set[int] = set()
    for part in text.replace(" ", ",").split(","):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            ids.update(range(int(first), int(last or first) + 1))
    return ids


def _present_ids(root: Path) -> list[int]:
    try:
        names = [entry.name for entry in under(root, CPU_DIR).iterdir()]
    except OSError:
        return []
    return sorted(int(m.group(1)) for name in names if (m := re.fullmatch(r"cpu(\d+)", name)))


def _physical_cores(root: Path, ids: list[int], blocks: list[dict[str, str]]) -> int | None:
    """Distinct SMT sibling sets from sysfs topology, else distinct (physical id, core id) pairs."""
    siblings = {read_text(root, f"{CPU_DIR}/cpu{n}/topology/thread_siblings_list").text for n in ids}
    siblings.discard(None)
    if siblings:
        return len(siblings)
    pairs = {(b.get("physical id"), b["core id"]) for b in blocks if "core id" in b}
    return len(pairs) or None


def _cpufreq(root: Path, ids: list[int], online: list[bool | None]) -> tuple[dict[str, list[Any]], list[str]]:
    """Per-CPU governor and frequencies, with reasons for what is missing."""
    values: dict[str, list[Any]] = {"governor": [], **{field: [] for field in _FREQ_FILES}}
    no_dir: list[int] = []
    failed: dict[str, tuple[str, list[int]]] = {}
    for n, is_online in zip(ids, online, strict=True):
        base = f"{CPU_DIR}/cpu{n}/cpufreq"
        if not is_dir(under(root, base)):
            no_dir += [] if is_online is False else [n]
            for column in values.values():
                column.append(None)
            continue
        governor = read_text(root, f"{base}/scaling_governor")
        values["governor"].append(governor.text)
        _note(failed, "scaling_governor", governor.problem, n)
        for field, name in _FREQ_FILES.items():
            khz, problem = read_int(root, f"{base}/{name}")
            values[field].append(khz)
            _note(failed, name, problem, n)
    return values, _cpufreq_reasons(ids, online, no_dir, failed)


def _note(failed: dict[str, tuple[str, list[int]]], name: str, problem: str | None, cpu: int) -> None:
    if problem is not None:
        failed.setdefault(name, (problem, []))[1].append(cpu)


def _cpufreq_reasons(ids: list[int], online: list[bool | None], no_dir: list[int], failed: dict[str, tuple[str, list[int]]]) -> list[str]:
    reasons: list[str] = []
    expected = [n for n, is_online in zip(ids, online, strict=True) if is_online is not False]
    if no_dir and no_dir == expected:
        reasons.append(f"cpufreq: no {CPU_DIR}/cpu{no_dir[0]}/cpufreq (virtual machine or driver absent)")
    elif no_dir:
        reasons.append(f"cpufreq: no cpufreq directory for online cpu {_ids(no_dir)}")
    for name, (problem, cpus) in failed.items():
        reasons.append(f"cpufreq {name}: {problem} (cpu {_ids(cpus)})")
    return reasons


def _ids(cpus: list[int]) -> str:
    return ",".join(str(n) for n in cpus)


def _affinity_cores() -> int | None:
    """CPUs this process may run on (taskset, cgroup cpusets); a property of the process, not of root."""
    getter = getattr(os, "sched_getaffinity", None)
    return len(getter(0)) if getter else None


def capture_cpu(root: Path = Path("/")) -> dict[str, Any]:
    """The ``cpu`` section of an environment capture; never raises."""
    info = read_text(root, "/proc/cpuinfo")
    blocks = parse_cpuinfo(info.text or "")
    unavailable = [f"cpuinfo: {info.problem}"] if info.problem else []
    ids = _present_ids(root)
    online_list = read_text(root, f"{CPU_DIR}/online").text
    online_ids = parse_cpu_list(online_list) if online_list else None
    if not ids:
        unavailable.append(f"cpu topology: no {CPU_DIR}/cpuN directories (sysfs not mounted)")
        ids = list(range(_count_processors(blocks) or os.cpu_count() or 0))
    online = [None if online_ids is None else n in online_ids for n in ids]
    freq, freq_reasons = _cpufreq(root, ids, online)
    features, source, disagree = _features(root, blocks)
    return {
        "model": cpu_model(blocks),
        "vendor": next((b["vendor_id"] for b in blocks if b.get("vendor_id")), None),
        "isa": isa_label(features, _machine(blocks)),
        "simd_features": features,
        "simd_source": source,
        **({"simd_cpuinfo_differs": disagree} if disagree else {}),
        "int8_kernels": int8_kernels(features, _machine(blocks)),
        "logical_cores": len(online_ids) if online_ids else len(ids) or os.cpu_count(),
        "physical_cores": _physical_cores(root, ids, blocks),
        "affinity_cores": _affinity_cores(),
        "ids": ids,
        "online": online,
        **freq,
        "unavailable": unavailable + freq_reasons,
    }


def _features(root: Path, blocks: list[dict[str, str]]) -> tuple[list[str], str, str | None]:
    """The SIMD features kernels dispatch on, where they were read, and how /proc/cpuinfo disagrees (None: it does not).

    On this machine's own x86-64 CPU (``root`` "/") that is CPUID, which the libraries ask; a fake tree,
    another architecture or a system that refuses CPUID's executable page is read from /proc/cpuinfo.
    """
    listed = simd_features(blocks)
    asked = cpuid_features() if Path(root) == Path("/") and _machine(blocks) == "x86_64" else None
    if asked is None:
        return listed, "/proc/cpuinfo", None
    features = [name for name in KERNEL_FEATURES if name in asked]
    only_cpuid = [n for n in features if n not in listed]
    only_listed = [n for n in listed if n in CPUID_FEATURES and n not in asked]
    if not only_cpuid and not only_listed:
        return features, "cpuid", None
    parts = [f"only CPUID: {' '.join(only_cpuid)}"] * bool(only_cpuid) + [f"only /proc/cpuinfo: {' '.join(only_listed)}"] * bool(
        only_listed
    )
    return features, "cpuid", "; ".join(parts) + " (an emulator or a hypervisor masking CPUID; kernels follow CPUID)"


def _machine(blocks: list[dict[str, str]]) -> str:
    """The architecture the cpuinfo describes (a fake tree may describe another than this host's)."""
    if any("CPU implementer" in b for b in blocks):
        return "aarch64"
    if any("vendor_id" in b for b in blocks):
        return "x86_64"
    return platform.machine()


def _count_processors(blocks: list[dict[str, str]]) -> int:
    return sum(1 for block in blocks if "processor" in block)
