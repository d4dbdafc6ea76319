"""tegrastats output as a power source (Jetson), for when the INA3221 sysfs files cannot be read.

``tegrastats --interval <ms>`` prints one line per interval; rails appear as ``NAME cur/avg`` in mW, with or
without the unit: ``POM_5V_IN 933/933`` (JetPack 4), ``VDD_IN 4556mW/4556mW`` (JetPack 6),
``VDD_GPU_SOC 5139mW/5139mW/5139mW`` (JetPack 7). Only the current value is used (the average is an EMA).
A reader thread keeps the latest line; its arrival time is the sample time (``sample_ns``), so the sampler
never counts one line twice. As with the sysfs rails, the input rail alone is the total.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.energy.base import Probe, SensorBase, SensorError
from harness.energy.jetson import INPUT_RAILS
from harness.system.tools import find_tool

__all__ = ["TegrastatsSensor", "parse_tegrastats", "probe"]

_RAIL = re.compile(r"\b(\w+) ([0-9.]+)(\w?)W?/([0-9.]+)(\w?)W?\b")  # jtop's pattern: NAME cur[unit]/avg[unit]
INTERVAL_MS = 100


def parse_tegrastats(line: str) -> dict[str, float]:
    """Watts per rail (current values) in one tegrastats line."""
    rails = {}
    for name, value, prefix, _avg, _avg_prefix in _RAIL.findall(line):
        rails[name] = float(value) / (1.0 if prefix == "W" else 1e3)  # mW, with "mW" or no unit
    return rails


@dataclass
class TegrastatsSensor(SensorBase):
    """The latest line of a running ``tegrastats`` process."""

    process: Any = None
    sample_ns: int = 0
    latest: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    _thread: threading.Thread | None = None

    def start(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self._thread = threading.Thread(target=self._follow, args=(self.process.stdout,), name="arbench-tegrastats", daemon=True)
        self._thread.start()

    def _follow(self, stream: IO[str]) -> None:
        for line in stream:
            rails = parse_tegrastats(line)
            if rails:
                self.latest, self.sample_ns = rails, time.monotonic_ns()
        self.error = "tegrastats stopped"

    def read(self) -> dict[str, float]:
        if self.error or not self.latest:
            raise SensorError(self.error or "tegrastats printed no rail yet")
        missing = [rail for rail in self.channels if rail not in self.latest]
        if missing:
            raise SensorError(f"tegrastats line without {', '.join(missing)}")
        return {rail: self.latest[rail] for rail in self.channels}

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)


def probe(root: Path = Path("/"), interval_ms: int = INTERVAL_MS, wait_s: float = 3.0) -> Probe:
    """Start tegrastats (under ``root``) and wait for its first line of rails."""
    tool = find_tool(root, "tegrastats")
    if tool is None:
        return Probe("tegrastats", reason="no tegrastats (not a Jetson)")
    sensor = TegrastatsSensor("tegrastats", "power", (), (), "board", interval_ms / 1e3, source=f"{tool} --interval {interval_ms}")
    sensor.start([tool, "--interval", str(interval_ms)])
    deadline = time.monotonic() + wait_s
    while not sensor.latest and sensor.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if not sensor.latest:
        sensor.close()
        return Probe("tegrastats", reason=f"tegrastats printed no power rail within {wait_s:.0f} s")
    rails = tuple(sensor.latest)
    inputs = [r for r in rails if r in INPUT_RAILS]
    sensor.channels, sensor.total = rails, tuple(inputs[:1]) or rails
    return Probe("tegrastats", [sensor])
