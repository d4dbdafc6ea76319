"""Frame records get their ``energy`` once the power samples bracket them, then go to the real writer.

A power sample after a frame's end arrives up to one sampling period later, and the pipeline must not
wait for it (that would be timed as harness work). So records queue here until the sampler has passed
their end, and are written in order; counters alone (RAPL) need no wait. At ``close`` the sampler gets
up to three periods to pass the last frame, then everything left is written. A killed run loses at
most the frames of the last sampling period. Without sensors, records pass straight through, unchanged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import MutableMapping
from typing import Any, Protocol

from harness.energy.meter import EnergyMeter

__all__ = ["EnergyWriter"]


class _Writer(Protocol):
    def write(self, record: Any) -> None: ...

    def close(self) -> None: ...


class EnergyWriter:
    """Wraps a FrameWriter: ``write`` and ``close`` as it has, with ``record["energy"]`` added."""

    def __init__(self, writer: _Writer, meter: EnergyMeter) -> None:
        self.writer, self.meter = writer, meter
        self._pending: deque[MutableMapping[str, Any]] = deque()

    def write(self, record: MutableMapping[str, Any]) -> None:
        if not self.meter.available:
            self.writer.write(record)
            return
        self._pending.append(record)
        self._drain(final=False)

    def close(self) -> None:
        """Let the sampler pass the last frame, stop the meter's sampling, write what is left, close."""
        if self._pending:
            self.meter.wait_ready(_end_ns(self._pending[-1]))
        self.meter.stop_sampling()
        self._drain(final=True)
        self.writer.close()

    def _drain(self, final: bool) -> None:
        while self._pending:
            record = self._pending[0]
            if not final and not self.meter.ready(_end_ns(record)):
                return
            self._pending.popleft()
            if record.get("spans"):
                record["energy"] = self.meter.frame_energy(record["spans"])
            self.writer.write(record)


def _end_ns(record: MutableMapping[str, Any]) -> int:
    return max((s["end_ns"] for s in record.get("spans") or ()), default=0)
