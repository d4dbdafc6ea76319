"""System state as show/tune operations (pyperf ``system show|tune``): governor, nvpmodel, jetson_clocks, throttling.

``show`` reads; it is recorded in every manifest (``system`` at the start, ``system_end`` at the end).
``tune`` runs the device profile's power-mode commands and needs root; it never runs during a benchmark.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.system.files import is_file, read_int, read_text, under
from harness.system.throttle import get_throttled
from harness.system.tools import find_tool, run_tool

__all__ = ["show_system", "tune_system"]

POLICY_DIR = "/sys/devices/system/cpu/cpufreq"


def _policies(root: Path) -> dict[str, dict[str, Any]]:
    try:
        names = sorted((p.name for p in under(root, POLICY_DIR).iterdir() if re.fullmatch(r"policy\d+", p.name)), key=lambda n: int(n[6:]))
    except OSError:
        return {}
    policies = {}
    for name in names:
        base = f"{POLICY_DIR}/{name}"
        policies[name] = {
            "cpus": read_text(root, f"{base}/related_cpus").text,
            "governor": read_text(root, f"{base}/scaling_governor").text,
            **{key: read_int(root, f"{base}/{file}")[0] for key, file in _FREQS.items()},
        }
    return policies


_FREQS = {"cur_khz": "scaling_cur_freq", "min_khz": "scaling_min_freq", "max_khz": "scaling_max_freq", "hw_max_khz": "cpuinfo_max_freq"}


def _nvpmodel(root: Path) -> tuple[dict[str, Any] | None, str | None]:
    tool = find_tool(root, "nvpmodel")
    if tool is None:
        return None, "no nvpmodel (not a Jetson)"
    out, why = run_tool([tool, "-q"])
    match = re.search(r"NV Power Mode:\s*(\S+)\s*\n\s*(\d+)", out or "")
    if not match:
        return None, why or f"nvpmodel -q printed {out!r}"
    return {"mode": match.group(1), "id": int(match.group(2))}, None


def _jetson_clocks(root: Path, policies: dict[str, dict[str, Any]]) -> str | None:
    """``on`` when every CPU policy is pinned at its maximum (what jetson_clocks does); Jetsons only."""
    if not is_file(under(root, "/etc/nv_tegra_release")) or not policies:
        return None
    pinned = all(p["min_khz"] is not None and p["min_khz"] == p["hw_max_khz"] for p in policies.values())
    return "on" if pinned else "off"


def show_system(root: Path = Path("/")) -> dict[str, Any]:
    """Governors and frequency limits per cpufreq policy, nvpmodel mode, jetson_clocks, Pi throttling."""
    policies = _policies(root)
    nvpmodel, nvp_why = _nvpmodel(root)
    throttled, thr_why = get_throttled(root)
    unavailable = [] if policies else [f"cpufreq: no {POLICY_DIR}/policy* (virtual machine or driver absent)"]
    unavailable += [f"nvpmodel: {nvp_why}"] if nvp_why else []
    unavailable += [f"get_throttled: {thr_why}"] if thr_why else []
    return {
        "cpufreq": policies,
        "governors": sorted({p["governor"] for p in policies.values() if p["governor"]}),
        "nvpmodel": nvpmodel,
        "jetson_clocks": _jetson_clocks(root, policies),
        "throttled": throttled,
        "unavailable": unavailable,
    }


def tune_system(power_modes: dict[str, list[str]], mode: str | None, device: str) -> list[str]:
    """Run the device profile's commands for ``mode`` (default: the first listed); return them. Needs root."""
    if os.geteuid() != 0:
        raise UserError("system tune needs root (it sets governors, nvpmodel, jetson_clocks): run `sudo arbench system tune`")
    if not power_modes:
        raise UserError(f"device {device} lists no power_modes to tune")
    chosen = mode or next(iter(power_modes))
    if chosen not in power_modes:
        raise UserError(f"device {device} has no power mode {chosen!r}; valid: {', '.join(power_modes)}")
    for command in power_modes[chosen]:
        try:
            done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60, check=False)
        except OSError as exc:
            raise UserError(f"`{command}` cannot run: {exc.strerror}; install it or edit devices/{device}.toml") from None
        if done.returncode != 0:
            raise UserError(f"`{command}` exited {done.returncode}: {(done.stderr.strip().splitlines() or [''])[-1]}")
    return power_modes[chosen]
