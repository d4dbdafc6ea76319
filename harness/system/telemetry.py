"""Telemetry sampled by the energy sampler's thread: per-core frequency and utilization, temperatures, RSS.

Frequencies (kHz) come from cpufreq, utilization from /proc/stat deltas, temperatures from the thermal
zones (°C), the resident set from the process's own /proc/self/statm (MiB; a property of the process, so
never read below a fake root). A run counts as throttled when any of these is seen while it ran:
a Pi ``get_throttled`` bit (now, or newly set since boot), an x86 thermal-throttle counter that rose, a
CPU whose allowed maximum (``scaling_max_freq``, lowered by cooling devices) dropped, or a busy core (≥ 90 %)
running below 80 % of its hardware maximum in at least half of its busy samples.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from harness.system.files import read_int, read_text, under
from harness.system.thermal import capture_thermal
from harness.system.throttle import NOW_MASK, SINCE_BOOT_MASK, get_throttled, thermal_throttle_count

__all__ = ["TelemetryCollector"]

CPU_DIR = "/sys/devices/system/cpu"
BUSY = 0.9
LOW_FREQ = 0.8
PI_EVERY = 10  # get_throttled spawns a process: every 10th sample only


class TelemetryCollector:
    """Collects samples between ``begin`` and ``end``; ``summary`` condenses them for the manifest."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root
        self.cpus = _cpufreq_cpus(root)
        self.hw_max = {n: read_int(root, f"{CPU_DIR}/cpu{n}/cpufreq/cpuinfo_max_freq")[0] for n in self.cpus}
        self.freq: dict[int, list[int]] = {n: [] for n in self.cpus}
        self.util: dict[int, list[float]] = {}
        self.low_busy: dict[int, list[bool]] = {}
        self.temps: dict[str, list[float]] = {}
        self.rss_mb: list[float] = []
        self.evidence: list[str] = []
        self.unavailable: list[str] = []
        self._stat: dict[int, tuple[int, int]] = {}
        self._cap: dict[int, int | None] = {}
        self._pi: dict[str, Any] | None = None
        self._throttle0: int | None = None
        self.samples = 0

    def begin(self) -> None:
        self._cap = {n: read_int(self.root, f"{CPU_DIR}/cpu{n}/cpufreq/scaling_max_freq")[0] for n in self.cpus}
        self._throttle0 = thermal_throttle_count(self.root, self.cpus)
        self._pi, why = get_throttled(self.root)
        if not self.cpus:
            self.unavailable.append(f"frequencies: no {CPU_DIR}/cpuN/cpufreq (virtual machine or driver absent)")
        if self._pi is None:
            self.unavailable.append(f"get_throttled: {why}")
        self._read_stat()

    def sample(self) -> None:
        self.samples += 1
        util = self._read_stat()
        for n in self.cpus:
            khz = read_int(self.root, f"{CPU_DIR}/cpu{n}/cpufreq/scaling_cur_freq")[0]
            if khz is None:
                continue
            self.freq[n].append(khz)
            if n in util and util[n] >= BUSY and self.hw_max.get(n):
                self.low_busy.setdefault(n, []).append(khz < LOW_FREQ * self.hw_max[n])  # type: ignore[operator]
            cap = read_int(self.root, f"{CPU_DIR}/cpu{n}/cpufreq/scaling_max_freq")[0]
            if cap is not None and self._cap.get(n) is not None and cap < self._cap[n]:  # type: ignore[operator]
                self._note(f"cpu{n} allowed maximum lowered from {self._cap[n]} to {cap} kHz during the run")
        for zone in capture_thermal(self.root)[0]:
            if zone["temp_c"] is not None:
                self.temps.setdefault(zone["type"] or zone["zone"], []).append(zone["temp_c"])
        self.rss_mb.append(_rss_mb())
        if self._pi is not None and self.samples % PI_EVERY == 0:
            self._check_pi(get_throttled(self.root)[0])

    def end(self) -> None:
        if self._pi is not None:
            self._check_pi(get_throttled(self.root)[0])
        count = thermal_throttle_count(self.root, self.cpus)
        if count is not None and self._throttle0 is not None and count > self._throttle0:
            self._note(f"x86 thermal_throttle counters rose by {count - self._throttle0}")
        for n, flags in self.low_busy.items():
            if len(flags) >= 4 and sum(flags) >= len(flags) / 2:
                self._note(f"cpu{n} ran below {LOW_FREQ:.0%} of its {self.hw_max[n]} kHz maximum in {sum(flags)}/{len(flags)} busy samples")

    def summary(self) -> dict[str, Any]:
        """Per-CPU frequency and utilization statistics, temperatures, RSS, and the throttling verdict."""
        return {
            "samples": self.samples,
            "freq_khz": {f"cpu{n}": _stats(v) for n, v in self.freq.items() if v},
            "util": {f"cpu{n}": _stats(v) for n, v in self.util.items() if v},
            "temp_c": {zone: _stats(v) for zone, v in self.temps.items()},
            "rss_mb": _stats(self.rss_mb) if self.rss_mb else None,
            "throttled": self.throttled(),
            "throttle_evidence": self.evidence,
            "unavailable": self.unavailable,
        }

    def throttled(self) -> bool | None:
        """True with evidence; False when a throttling signal was watched and stayed quiet.

        None (unknown) when none could be read here: no cpufreq, no x86 thermal_throttle counters, no
        ``get_throttled`` (a virtual machine, say), where "not throttled" would be a claim nobody checked.
        """
        if self.evidence:
            return True
        watched = bool(self.cpus) or self._throttle0 is not None or self._pi is not None
        return False if watched else None

    def _note(self, line: str) -> None:
        if line not in self.evidence:
            self.evidence.append(line)

    def _check_pi(self, state: dict[str, Any] | None) -> None:
        if state is None or self._pi is None:
            return
        new_since_boot = state["value"] & SINCE_BOOT_MASK & ~self._pi["value"]
        if state["value"] & NOW_MASK or new_since_boot:
            self._note(f"vcgencmd get_throttled={state['raw']}: {', '.join(state['flags'])}")

    def _read_stat(self) -> dict[int, float]:
        text = read_text(self.root, "/proc/stat").text or ""
        util = {}
        for match in re.finditer(r"^cpu(\d+)\s+([\d ]+)$", text, re.MULTILINE):
            n, fields = int(match.group(1)), [int(x) for x in match.group(2).split()]
            total, idle = sum(fields[:8]), fields[3] + (fields[4] if len(fields) > 4 else 0)
            if n in self._stat and total > self._stat[n][0]:
                util[n] = 1 - (idle - self._stat[n][1]) / (total - self._stat[n][0])
                self.util.setdefault(n, []).append(round(util[n], 4))
            self._stat[n] = (total, idle)
        return util


def _cpufreq_cpus(root: Path) -> list[int]:
    try:
        names = [p.name for p in under(root, CPU_DIR).iterdir()]
    except OSError:
        return []
    ids = sorted(int(m.group(1)) for name in names if (m := re.fullmatch(r"cpu(\d+)", name)))
    return [n for n in ids if under(root, f"{CPU_DIR}/cpu{n}/cpufreq").is_dir()]


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "mean": round(sum(values) / len(values), 3), "max": max(values)}
