"""Throttling signals: Raspberry Pi ``vcgencmd get_throttled`` bits and x86 thermal-throttle counters."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.system.files import read_int
from harness.system.tools import find_tool, run_tool

__all__ = ["THROTTLE_BITS", "decode_throttled", "get_throttled", "thermal_throttle_count"]

# bit -> meaning, from the Raspberry Pi documentation of `vcgencmd get_throttled`
THROTTLE_BITS = {
    0: "under-voltage detected",
    1: "arm frequency capped",
    2: "currently throttled",
    3: "soft temperature limit active",
    16: "under-voltage has occurred",
    17: "arm frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}
NOW_MASK = 0xF
SINCE_BOOT_MASK = 0xF0000


def decode_throttled(text: str) -> dict[str, Any] | None:
    """``throttled=0x50005`` → raw value and the names of its set bits; None if the text has no value."""
    match = re.search(r"throttled=(0x[0-9a-fA-F]+|\d+)", text)
    if not match:
        return None
    value = int(match.group(1), 0)
    return {"raw": hex(value), "value": value, "flags": [name for bit, name in THROTTLE_BITS.items() if value >> bit & 1]}


def get_throttled(root: Path = Path("/")) -> tuple[dict[str, Any] | None, str | None]:
    """The decoded ``vcgencmd get_throttled``, or None and why (not a Pi, vcgencmd failed)."""
    tool = find_tool(root, "vcgencmd")
    if tool is None:
        return None, "no vcgencmd (not a Raspberry Pi)"
    out, why = run_tool([tool, "get_throttled"], timeout_s=2.0)
    decoded = decode_throttled(out or "")
    return decoded, None if decoded else (why or f"vcgencmd get_throttled printed {out!r}")


def thermal_throttle_count(root: Path, cpus: list[int]) -> int | None:
    """Sum of x86 ``thermal_throttle/{core,package}_throttle_count`` over ``cpus``; None where absent."""
    total, seen = 0, False
    for cpu in cpus:
        for name in ("core_throttle_count", "package_throttle_count"):
            value, _ = read_int(root, f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle/{name}")
            if value is not None:
                total, seen = total + value, True
    return total if seen else None
