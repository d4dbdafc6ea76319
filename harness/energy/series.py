"""Where readings are kept: timestamped power samples (integrated by trapezoid) and unwrapped counters."""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass, field

from harness.energy.base import Sensor, SensorError

__all__ = ["CounterTrack", "PowerSeries", "Window"]


@dataclass(frozen=True)
class Window:
    """Energy of one time window from one sensor: joules per channel, and how much of it samples covered."""

    joules: tuple[float, ...]
    coverage: float


class PowerSeries:
    """Samples of one power sensor: (t_ns, watts per channel); a failed read is a row of NaN at its time.

    Written by the sampler thread, read by the thread that attributes frames; one lock guards both.
    ``max_gap_ns``: consecutive samples further apart than this do not count as covering the time between.
    """

    def __init__(self, channels: int, max_gap_ns: int) -> None:
        self.channels = channels
        self.max_gap_ns = max_gap_ns
        self._t: list[int] = []
        self._v: list[tuple[float, ...]] = []
        self._lock = threading.Lock()

    def append(self, t_ns: int, values: tuple[float, ...] | None) -> None:
        with self._lock:
            if self._t and t_ns <= self._t[-1]:
                return  # a source that stamps its own samples (tegrastats) gave the same line again
            self._t.append(t_ns)
            self._v.append(values if values is not None else (math.nan,) * self.channels)

    @property
    def last_ns(self) -> int:
        return self._t[-1] if self._t else -1

    def __len__(self) -> int:
        return len(self._t)

    def prune(self, before_ns: int) -> None:
        """Drop samples no window starting at or after ``before_ns`` can need."""
        with self._lock:
            cut = max(bisect.bisect_right(self._t, before_ns) - 1, 0)
            if cut > 1024:
                del self._t[:cut], self._v[:cut]

    def integrate(self, start_ns: int, end_ns: int) -> Window | None:
        """Trapezoid integral of the linearly interpolated power over [start, end]; None unless samples bracket it.

        A failed read inside the bracket also gives None: the energy is unknown, not estimated. Plain Python:
        a window holds a handful of samples, where NumPy's per-call cost would dominate.
        """
        with self._lock:
            first = bisect.bisect_right(self._t, start_ns) - 1
            last = bisect.bisect_left(self._t, end_ns, lo=max(first, 0))
            if first < 0 or last >= len(self._t):
                return None
            ts, vs = self._t[first : last + 1], self._v[first : last + 1]
        if any(math.isnan(value) for row in vs for value in row):
            return None
        joules = [0.0] * self.channels
        if end_ns <= start_ns or len(ts) == 1:
            return Window(tuple(joules), 1.0)
        covered = 0
        for k in range(len(ts) - 1):
            t0, t1 = ts[k], ts[k + 1]
            lo, hi = max(t0, start_ns), min(t1, end_ns)
            if hi <= lo:
                continue
            width = t1 - t0
            for c, (v0, v1) in enumerate(zip(vs[k], vs[k + 1], strict=True)):
                mean_w = v0 + (v1 - v0) * ((lo + hi) / 2 - t0) / width  # linear power: its mean is its midpoint value
                joules[c] += mean_w * (hi - lo)
            covered += (hi - lo) if width <= self.max_gap_ns else 0
        return Window(tuple(j / 1e9 for j in joules), min(covered / (end_ns - start_ns), 1.0))


@dataclass
class CounterTrack:
    """A counter sensor with wrap-arounds added back: cumulative joules that only grow.

    Every read (span edges from the pipeline thread, wrap polls from the sampler) goes through one lock,
    so consecutive reads are ordered; as long as reads come more often than the counter wraps, every wrap
    is seen (a single pair of reads cannot tell one wrap from several). A domain whose wrap range is
    unknown and that goes backwards is broken from then on (None), never guessed.
    """

    sensor: Sensor
    poll_s: float
    errors: int = 0
    first_error: str | None = None
    _last: dict[str, float] = field(default_factory=dict)
    _offset: dict[str, float] = field(default_factory=dict)
    _broken: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self) -> tuple[float | None, ...] | None:
        """Unwrapped cumulative joules per channel, or None when the read failed."""
        with self._lock:
            try:
                raw = self.sensor.read()
            except SensorError as exc:
                self.errors += 1
                self.first_error = self.first_error or str(exc)
                return None
            return tuple(self._unwrap(channel, raw[channel]) for channel in self.sensor.channels)

    def _unwrap(self, channel: str, value: float) -> float | None:
        last = self._last.get(channel)
        self._last[channel] = value
        if last is not None and value < last:
            wrap = self.sensor.wrap_j.get(channel)
            if not wrap:
                self._broken.add(channel)
                self.first_error = self.first_error or f"{channel} went backwards and its wrap range is unknown"
            else:
                self._offset[channel] = self._offset.get(channel, 0.0) + wrap
        return None if channel in self._broken else value + self._offset.get(channel, 0.0)
