"""Energy per span: counters read at span edges, power sampled in the background and integrated.

``EnergyMeter`` is what the runner wires in, once per configuration::

    meter = EnergyMeter(settings)          # probes the sensors (null meter when none: energy unavailable)
    meter.start()                          # sampling threads, then the idle baseline (settings.idle_s)
    Tracer(listeners=meter.listeners)      # counters read at every span edge
    meter.frame_energy(record["spans"])    # {span name | "e2e": {gross_j, net_j, coverage, domains}}
    meter.stop(); meter.describe()         # sensors, channels, rates, idle baseline, status

Totals never add overlapping readings: within a sensor only its ``total`` channels; across sensors by
scope, an external supply meter beats board rails, which beat CPU (RAPL) + GPU (NVML) added together.
Net energy = gross − idle power × duration. A window the samples do not bracket, or that holds a failed
read, has no energy (None) and makes the status ``partial``; nothing is ever estimated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.energy.base import SCOPES, FileSensor, Probe, Sensor, SensorError
from harness.energy.native import NativeReader, unavailable_reason
from harness.energy.registry import probe_sensors
from harness.energy.sampler import Sampler, Task
from harness.energy.series import CounterTrack, PowerSeries, Window
from harness.store.spans import is_stage

__all__ = ["MAX_DEFAULT_HZ", "EnergyMeter"]

MAX_DEFAULT_HZ = 100.0  # the default rate is the sensor's refresh rate, capped here (overhead)
ASSUMED_MAX_POWER_W = 500.0  # counters are polled often enough to see every wrap at this power


class _PowerSource:
    """A power sensor, its series, and who samples it.

    The C thread samples file-backed sensors where it is built and ``native`` is set; a task of the Python
    sampler thread samples every other sensor.
    """

    def __init__(self, sensor: Sensor, hz: float, native: bool) -> None:
        self.sensor, self.hz = sensor, hz
        self.series = PowerSeries(len(sensor.channels), int(3e9 / hz))
        self.errors, self.first_error = 0, None
        plan = sensor.file_plan() if isinstance(sensor, FileSensor) else None
        self.native = NativeReader(plan, hz) if native and plan and not unavailable_reason() else None
        if self.native is not None:
            self.sampler = "C thread"
        elif plan:
            self.sampler = f"Python thread: {unavailable_reason()}" if native else "Python thread: [energy] native_sampler = false"
        else:
            self.sampler = "Python thread"

    def sample(self) -> None:
        """One reading, by the Python sampler thread."""
        t0 = time.monotonic_ns()
        try:
            values = self.sensor.read()
            row: tuple[float, ...] | None = tuple(values[c] for c in self.sensor.channels)
        except SensorError as exc:
            self.errors += 1
            self.first_error = self.first_error or str(exc)
            row = None
        stamped = getattr(self.sensor, "sample_ns", 0)
        self.series.append(stamped if stamped and row is not None else (t0 + time.monotonic_ns()) // 2, row)

    def sync(self, until_ns: int | None = None) -> None:
        """Move what the C thread has sampled into the series (nothing to do for the Python thread).

        With ``until_ns``, only when the series does not reach it yet: attribution calls this for every record.
        """
        if self.native is None or (until_ns is not None and self.series.last_ns >= until_ns):
            return
        failed = False
        for t_ns, row in self.native.drain():
            self.series.append(t_ns, row)
            failed = failed or row is None
        if failed or until_ns is None:  # the counts change with a failed read (or a full buffer: checked at the end)
            self.errors, self.first_error = self.native.counts()


class _EdgeListener:
    """Reads every counter at every span edge; readings are keyed by (span name, t_ns) as the Tracer stores them."""

    def __init__(self, counters: list[CounterTrack]) -> None:
        self.counters = counters
        self.edges: dict[tuple[str, int], list[tuple[float | None, ...] | None]] = {}

    def _read(self, name: str, t_ns: int) -> None:
        self.edges[(name, t_ns)] = [c.read() for c in self.counters]
        if len(self.edges) > 20000:  # edges nobody asked for (spans of frames never attributed)
            for key in list(self.edges)[:10000]:
                del self.edges[key]

    span_started = _read
    span_ended = _read


class EnergyMeter:
    """Energy attribution for one configuration (see the module docstring)."""

    def __init__(self, settings: Any, probes: list[Probe] | None = None) -> None:
        self.settings = settings
        if probes is None:
            probes = probe_sensors(settings.sensors, Path(settings.root)) if settings.enabled else []
        self.probes = probes
        sensors = [s for p in probes for s in p.sensors]
        native = getattr(settings, "native_sampler", True)
        self.power = [_PowerSource(s, self._hz(s), native) for s in sensors if s.kind == "power"]
        self.counters = [CounterTrack(s, self._poll_s(s)) for s in sensors if s.kind == "counter"]
        self._listener = _EdgeListener(self.counters)
        self.in_total = _total_sensors([*(p.sensor for p in self.power), *(c.sensor for c in self.counters)])
        self.idle_w: float | None = None
        self.idle_domain_w: dict[str, float | None] = {}
        self.unresolved = 0
        self.telemetry = _telemetry(settings)
        tasks = [Task(p.sensor.name, 1 / p.hz, p.sample) for p in self.power if p.native is None]
        tasks += [Task(f"{c.sensor.name}-wrap", c.poll_s, c.read) for c in self.counters]
        if self.telemetry is not None:
            tasks.append(Task("telemetry", 1 / settings.telemetry_hz, self.telemetry.sample))
        self.sampler = Sampler(tasks)
        self._closed = False

    # --- wiring -------------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return bool(self.power or self.counters)

    @property
    def listener(self) -> _EdgeListener:
        """The SpanListener that reads counters at span edges."""
        return self._listener

    @property
    def listeners(self) -> tuple[_EdgeListener, ...]:
        """Listeners for a frame's Tracer: none without counters, so a null meter costs nothing per span."""
        return (self._listener,) if self.counters else ()

    def start(self) -> None:
        """Start sampling, then measure the idle baseline (blocks ``settings.idle_s`` seconds with sensors)."""
        if self.telemetry is not None:
            self.telemetry.begin()
        for source in self.power:
            if source.native is not None:
                source.native.start()
        self.sampler.start()
        self.wait_ready(time.monotonic_ns())  # a first sample, so every later window starts after one
        if self.available and self.settings.idle_s > 0:
            self._idle_baseline(self.settings.idle_s)

    def ready(self, end_ns: int) -> bool:
        """Whether every power sensor has a sample at or after ``end_ns`` (windows up to there can be integrated)."""
        for source in self.power:
            source.sync(end_ns)
        return all(p.series.last_ns >= end_ns or not self._sampling(p) for p in self.power)

    def wait_ready(self, end_ns: int) -> None:
        """Wait (at most three sampling periods) until windows ending at ``end_ns`` can be integrated."""
        limit = time.monotonic() + 3 / min((p.hz for p in self.power), default=1e3) + 0.1
        while not self.ready(end_ns) and time.monotonic() < limit:
            time.sleep(0.002)

    def stop_sampling(self) -> None:
        """Stop every sampling thread and keep what they sampled (a thread stuck in a read is left running)."""
        self.sampler.stop()
        for source in self.power:
            if source.native is not None:
                source.native.stop()  # joined: its own descriptors are closed; stuck: it is left, never freed
            source.sync()

    def stop(self) -> None:
        """Stop sampling and close the sensors; safe to call twice."""
        self.stop_sampling()
        if self.sampler.running:  # the Python thread is stuck in a read: closing its files under it would leak reopened ones
            return
        if self.telemetry is not None and not self._closed:
            self.telemetry.end()
        if not self._closed:
            for sensor in [*(p.sensor for p in self.power), *(c.sensor for c in self.counters)]:
                sensor.close()
        self._closed = True

    def _sampling(self, source: _PowerSource) -> bool:
        return source.native.running if source.native is not None else self.sampler.running

    @property
    def sampling_cpu_s(self) -> float:
        """CPU seconds every sampling thread has used (the harness's own sampling cost)."""
        return self.sampler.cpu_s + sum(p.native.cpu_s for p in self.power if p.native is not None)

    @property
    def sampling_wall_s(self) -> float:
        """Seconds sampling has run (the longest-running sampling thread)."""
        return max([self.sampler.wall_s, *(p.native.wall_s for p in self.power if p.native is not None)])

    # --- attribution --------------------------------------------------------------------------------

    def frame_energy(self, spans: Sequence[Any]) -> dict[str, dict[str, Any]]:
        """Energy of each span of one frame (stored span dicts or Span objects), plus ``e2e``: joules."""
        items = [_edges(s) for s in spans]
        for source in self.power:
            source.sync(max((i[2] for i in items), default=0))
        result = {name: self._window(name, start, name, end) for name, start, end in items}
        stages = [i for i in items if is_stage(i[0])]
        if stages:
            first, last = stages[0], max(stages, key=lambda i: i[2])
            result["e2e"] = self._window(first[0], first[1], last[0], last[2])
        if self.power and items:
            earliest = min(i[1] for i in items)
            for source in self.power:
                source.series.prune(earliest - 2_000_000_000)
        for name, start, end in items:
            self._listener.edges.pop((name, start), None)
            self._listener.edges.pop((name, end), None)
        return result

    def _window(self, start_name: str, start_ns: int, end_name: str, end_ns: int) -> dict[str, Any]:
        windows = self._sensor_windows(start_name, start_ns, end_name, end_ns)
        domains: dict[str, float | None] = {}
        totals: list[float | None] = []
        coverage = 1.0
        for sensor, window in windows:
            for index, channel in enumerate(sensor.channels):
                domains[f"{sensor.name}:{channel}"] = None if window is None else _round(window.joules[index])
            if id(sensor) in self.in_total:
                totals.append(None if window is None else sum(window.joules[sensor.channels.index(c)] for c in sensor.total))
                coverage = min(coverage, 0.0 if window is None else window.coverage)
        gross = None if any(t is None for t in totals) else sum(totals)  # type: ignore[arg-type]
        self.unresolved += gross is None
        duration_s = (end_ns - start_ns) / 1e9
        net = None if gross is None or self.idle_w is None else gross - self.idle_w * duration_s
        return {"gross_j": _round(gross), "net_j": _round(net), "coverage": round(coverage, 4), "domains": domains}

    def _sensor_windows(self, start_name: str, start_ns: int, end_name: str, end_ns: int) -> list[tuple[Sensor, Window | None]]:
        windows: list[tuple[Sensor, Window | None]] = [(p.sensor, p.series.integrate(start_ns, end_ns)) for p in self.power]
        begin = self._listener.edges.get((start_name, start_ns))
        finish = self._listener.edges.get((end_name, end_ns))
        for index, counter in enumerate(self.counters):
            windows.append((counter.sensor, _counter_window(begin[index] if begin else None, finish[index] if finish else None)))
        return windows

    def _idle_baseline(self, idle_s: float) -> None:
        start_ns, before = time.monotonic_ns(), [c.read() for c in self.counters]
        time.sleep(idle_s)
        end_ns, after = time.monotonic_ns(), [c.read() for c in self.counters]
        self.wait_ready(end_ns)  # also moves the C thread's samples into the series
        windows = [(p.sensor, p.series.integrate(start_ns, end_ns)) for p in self.power]
        windows += [(c.sensor, _counter_window(b, a)) for c, b, a in zip(self.counters, before, after, strict=True)]
        seconds = (end_ns - start_ns) / 1e9
        total = 0.0
        for sensor, window in windows:
            for index, channel in enumerate(sensor.channels):
                self.idle_domain_w[f"{sensor.name}:{channel}"] = None if window is None else _round(window.joules[index] / seconds)
            if id(sensor) in self.in_total:
                if window is None:
                    return  # no baseline: net energy stays empty
                total += sum(window.joules[sensor.channels.index(c)] for c in sensor.total) / seconds
        self.idle_w = total

    # --- reporting ----------------------------------------------------------------------------------

    @property
    def errors(self) -> int:
        return sum(p.errors for p in self.power) + sum(c.errors for c in self.counters)

    def status(self) -> tuple[str, str]:
        """("available" | "partial" | "unavailable", why)."""
        if not self.settings.enabled:
            return "unavailable", "[energy] enabled = false"
        if not self.available:
            reasons = "; ".join(f"{p.name}: {p.reason}" for p in self.probes if p.reason)
            return "unavailable", f"no energy sensor found ({reasons})"
        if self.errors or self.unresolved:
            first = next((s.first_error for s in [*self.power, *self.counters] if s.first_error), None)
            return "partial", f"{self.errors} failed reads, {self.unresolved} windows without energy; first: {first}"
        return "available", ""

    def describe(self) -> dict[str, Any]:
        """Sensors and channels used, which make up the total, rates, idle baseline, status: for the manifest."""
        for source in self.power:
            source.sync()
        status, reason = self.status()
        sensors = [
            {**p.sensor.describe(), "sample_hz": p.hz, "sampler": p.sampler, "errors": p.errors, "first_error": p.first_error}
            for p in self.power
        ]
        sensors += [
            {**c.sensor.describe(), "wrap_poll_s": c.poll_s, "errors": c.errors, "first_error": c.first_error} for c in self.counters
        ]
        used = [*(p.sensor for p in self.power), *(c.sensor for c in self.counters)]
        wall, cpu = self.sampling_wall_s, self.sampling_cpu_s
        return {
            "status": status,
            "reason": reason,
            "sensors": sensors,
            "total_from": sorted({s.name for s in used if id(s) in self.in_total}),
            "not_used": {p.name: p.reason for p in self.probes if not p.found},
            "idle_s": self.settings.idle_s if self.available else 0.0,
            "idle_baseline_w": _round(self.idle_w),
            "idle_baseline_domain_w": self.idle_domain_w,
            "sampler_cpu_s": round(cpu, 4),
            "sampler_wall_s": round(wall, 3),
            "sampler_cpu_share": round(cpu / wall, 5) if wall > 0 else None,
        }

    def telemetry_summary(self) -> dict[str, Any]:
        """The telemetry collected while the meter ran (empty when telemetry is off)."""
        return self.telemetry.summary() if self.telemetry is not None else {}

    def _hz(self, sensor: Sensor) -> float:
        return self.settings.sample_hz or min(1 / sensor.refresh_s, MAX_DEFAULT_HZ)

    def _poll_s(self, sensor: Sensor) -> float:
        wraps = [w for w in sensor.wrap_j.values() if w > 0]
        return min([1.0, *(w / ASSUMED_MAX_POWER_W / 4 for w in wraps)])


def _telemetry(settings: Any) -> Any:
    if not getattr(settings, "telemetry_hz", 0):
        return None
    from harness.system.telemetry import TelemetryCollector

    return TelemetryCollector(Path(settings.root))


def _total_sensors(sensors: list[Sensor]) -> set[int]:
    """Which sensors add up to the total: the widest scope present (supply > board > cpu + gpu); never a check-only one (no ``total``)."""
    for scopes in (("supply",), ("board",), ("cpu", "gpu")):
        chosen = {id(s) for s in sensors if s.scope in scopes and s.total}
        if chosen:
            return chosen
    unknown = [s.scope for s in sensors if s.scope not in SCOPES]
    if unknown:
        raise ValueError(f"unknown sensor scope {unknown[0]!r}")
    return set()


def _counter_window(begin: tuple[float | None, ...] | None, end: tuple[float | None, ...] | None) -> Window | None:
    if begin is None or end is None or any(v is None for v in (*begin, *end)):
        return None
    return Window(tuple(e - b for b, e in zip(begin, end, strict=True)), 1.0)  # type: ignore[operator]


def _edges(span: Any) -> tuple[str, int, int]:
    if isinstance(span, Mapping):
        return span["name"], span["start_ns"], span["end_ns"]
    return span.name, span.start_ns, span.end_ns


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 9)
