"""Intel/AMD RAPL through Linux powercap: cumulative µJ counters per domain.

/sys/class/powercap holds a flat entry per zone (``intel-rapl:0``, ``intel-rapl:0:0``, ``intel-rapl:1``,
``intel-rapl-mmio:0``) next to the control-type directory ``intel-rapl``; zone ids are hex (``"%s:%x"``).
Domains are named ``package-0``, ``psys``, and ``package-0.core`` / ``.uncore`` / ``.dram`` for subzones.
The MMIO zone duplicates the MSR package zone on newer laptops and is skipped when both exist.

Only packages and DRAM make up the total: core and uncore are inside their package, and psys (platform)
overlaps the package, so adding them would count the same joules twice. ``energy_uj`` is root-only since
Linux 5.10 (CVE-2020-8694); probing says so in one line, with the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.energy.base import Probe, SensorBase
from harness.system.files import is_dir, under

__all__ = ["POWERCAP", "RaplSensor", "probe"]

POWERCAP = "/sys/class/powercap"
_ZONE = re.compile(r"(intel-rapl(?:-mmio)?):([0-9a-f]+)(?::([0-9a-f]+))?")
PERMISSION_FIX = (
    "root-only since Linux 5.10 (CVE-2020-8694); fix: `sudo chmod -R a+r /sys/class/powercap/intel-rapl:*` (until reboot), "
    "or a udev rule or /etc/sysfs.conf line `mode class/powercap/intel-rapl:0/energy_uj = 0444` per zone"
)


@dataclass
class RaplSensor(SensorBase):
    """Reads ``energy_uj`` of each domain (µJ → J)."""

    files: dict[str, Path] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        return {domain: self.open_files.number(path) / 1e6 for domain, path in self.files.items()}


@dataclass(frozen=True)
class _Zone:
    entry: str  # the flat entry name, e.g. intel-rapl:0:1
    control: str  # intel-rapl or intel-rapl-mmio
    ids: tuple[int, ...]  # (package,) or (package, subzone), parsed from hex
    name: str


def _zones(root: Path) -> list[_Zone]:
    base = under(root, POWERCAP)
    try:
        entries = sorted(p.name for p in base.iterdir())
    except OSError:
        return []
    zones = []
    for entry in entries:
        match = _ZONE.fullmatch(entry)
        if not match:
            continue
        try:
            name = (base / entry / "name").read_text(encoding="ascii").strip()
        except OSError:
            continue
        ids = tuple(int(part, 16) for part in match.groups()[1:] if part is not None)
        zones.append(_Zone(entry, match.group(1), ids, name))
    return sorted(zones, key=lambda z: (z.control, z.ids))


def _domains(zones: list[_Zone]) -> tuple[dict[str, _Zone], list[str]]:
    """Domain name → zone, MMIO duplicates of MSR zones dropped (with a note)."""
    tops = {(z.control, z.ids[0]): z.name for z in zones if len(z.ids) == 1}
    msr_names = {z.name for z in zones if z.control == "intel-rapl" and len(z.ids) == 1}
    domains: dict[str, _Zone] = {}
    notes = []
    for zone in zones:
        if zone.control == "intel-rapl-mmio" and zone.name in msr_names:
            notes.append(f"{zone.entry} ({zone.name}) duplicates the MSR zone: skipped")
            continue
        parent = tops.get((zone.control, zone.ids[0]), f"zone-{zone.ids[0]}")
        key = zone.name if len(zone.ids) == 1 else f"{parent}.{zone.name}"
        domains.setdefault(key, zone)
    return domains, notes


def _total(domains: list[str]) -> tuple[str, ...]:
    packages = [d for d in domains if "." not in d and d.startswith("package")]
    dram = [d for d in domains if d == "dram" or d.endswith(".dram")]
    return tuple(packages + dram) or tuple(d for d in domains if d == "psys")


def probe(root: Path = Path("/")) -> Probe:
    """Find the RAPL domains under ``root``; a permission problem is the reason, in one line with the fix."""
    zones = _zones(root)
    if not zones:
        why = "not Intel/AMD, a virtual machine, or the intel_rapl_msr module is not loaded"
        where = f"no {POWERCAP}/intel-rapl:* zones" if is_dir(under(root, POWERCAP)) else f"no {POWERCAP}"
        return Probe("rapl", reason=f"{where} ({why})")
    domains, notes = _domains(zones)
    files, wraps = {}, {}
    for key, zone in domains.items():
        path = f"{POWERCAP}/{zone.entry}/energy_uj"
        try:
            under(root, path).read_bytes()
        except PermissionError:
            return Probe("rapl", reason=f"permission denied reading {path}: {PERMISSION_FIX}")
        except OSError as exc:
            notes.append(f"{path}: {exc.strerror}: domain {key} left out")
            continue
        files[key] = under(root, path)
        try:
            wraps[key] = int(under(root, f"{POWERCAP}/{zone.entry}/max_energy_range_uj").read_text(encoding="ascii")) / 1e6
        except (OSError, ValueError):
            where = f"{POWERCAP}/{zone.entry}/max_energy_range_uj"
            notes.append(f"{where} unreadable: a wrap-around of {key} cannot be corrected ({PERMISSION_FIX})")
    if not files:
        return Probe("rapl", reason="; ".join(notes) or "no readable RAPL domain")
    channels = tuple(files)
    sensor = RaplSensor(
        "rapl", "counter", channels, _total(list(channels)), "cpu", 0.001, source=POWERCAP, wrap_j=wraps, notes=notes, files=files
    )
    return Probe("rapl", [sensor], "; ".join(notes) or None)
