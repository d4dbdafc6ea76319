"""Attribution against analytic truth: counters with wraps, power sampled at 10 Hz, idle baseline, coverage, sampler."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness.energy.base import Probe
from harness.energy.meter import EnergyMeter
from harness.energy.sampler import Sampler, Task
from harness.energy.series import PowerSeries
from harness.energy.writer import EnergyWriter
from harness.testing import CounterFileReplay, SinePower, build_fake_rapl_tree, replay_counter, replay_power
from harness.trace import Tracer
from tests.energy_spans import one_span, true_joules


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    sensors: tuple[str, ...] = ("auto",)
    sample_hz: float = 0.0
    idle_s: float = 0.0
    telemetry_hz: float = 0.0
    root: str = "/"


def meter_with(*sensors, **settings) -> EnergyMeter:
    return EnergyMeter(Settings(**settings), [Probe("replay", list(sensors))])


class FakeClock:
    def __init__(self) -> None:
        self.t_ns = 1_000_000_000

    def s(self) -> float:
        return self.t_ns / 1e9


def test_counter_with_two_wraps_is_exact_when_polled_faster_than_it_wraps() -> None:
    clock, trace = FakeClock(), SinePower(mean_w=20.0, amplitude_w=5.0, period_s=0.9)
    sensor = replay_counter(trace.energy, wrap_j=30.0, clock_s=clock.s)  # wraps every ~1.5 s
    meter = meter_with(sensor)
    track = meter.counters[0]
    start = clock.t_ns
    meter.listener.span_started("ocr", start)
    for _ in range(40):  # 4 s, polled every 0.1 s by the sampler
        clock.t_ns += 100_000_000
        track.read()
    meter.listener.span_ended("ocr", clock.t_ns)
    energy = meter.frame_energy([{"name": "ocr", "start_ns": start, "end_ns": clock.t_ns}])["ocr"]
    truth = trace.between(start, clock.t_ns)
    assert truth > 2 * 30.0  # at least two wraps inside the span
    assert energy["gross_j"] == pytest.approx(truth, rel=0.01)
    assert energy["coverage"] == 1.0 and energy["domains"]["replay:package-0"] == energy["gross_j"]


def test_counter_read_only_at_the_edges_cannot_see_two_wraps() -> None:
    clock, trace = FakeClock(), SinePower(mean_w=20.0, amplitude_w=5.0, period_s=0.9)
    meter = meter_with(replay_counter(trace.energy, wrap_j=30.0, clock_s=clock.s))
    start = clock.t_ns
    meter.listener.span_started("ocr", start)
    clock.t_ns += 4_000_000_000
    meter.listener.span_ended("ocr", clock.t_ns)
    energy = meter.frame_energy([{"name": "ocr", "start_ns": start, "end_ns": clock.t_ns}])["ocr"]
    assert energy["gross_j"] < trace.between(start, clock.t_ns) - 29  # why the sampler polls counters


def test_rapl_file_counter_with_two_wraps_through_the_real_sampler(tmp_path: Path) -> None:
    wrap_uj = 6_000_000  # 6 J: at 12 W the counter wraps every half second
    fake = build_fake_rapl_tree(tmp_path, max_energy_range_uj=wrap_uj)
    package, core = SinePower(12.0, 4.0, 0.7), SinePower(5.0, 2.0, 0.5)
    files = {fake.energy_files["package-0"]: package.energy, fake.energy_files["package-0.core"]: core.energy}
    with CounterFileReplay(files, wrap_uj) as replay:
        meter = EnergyMeter(Settings(sensors=("rapl",), root=str(tmp_path)))
        assert meter.counters and meter.counters[0].poll_s < 0.5
        meter.start()
        tracer = Tracer(listeners=meter.listeners)
        with tracer.span("capture"):
            time.sleep(0.05)
        with tracer.span("ocr"):
            time.sleep(1.3)
        meter.stop()
    energy = meter.frame_energy(tracer.spans)

    def truth(trace: SinePower, start_ns: int, end_ns: int) -> float:  # what the files held at the edges
        return trace.energy(replay.in_file_at(end_ns / 1e9)) - trace.energy(replay.in_file_at(start_ns / 1e9))

    ocr = next(s for s in tracer.spans if s.name == "ocr")
    assert truth(package, ocr.start_ns, ocr.end_ns) > 2 * 6.0
    # Against what the files held at the span's edges, not the analytic integral over the span itself: on a busy
    # machine the replay thread lags (13.9 J held against 17.6 J true once), and no meter can see energy not yet written.
    assert energy["ocr"]["gross_j"] == pytest.approx(truth(package, ocr.start_ns, ocr.end_ns), rel=0.01)
    assert energy["ocr"]["domains"]["rapl:package-0.core"] == pytest.approx(truth(core, ocr.start_ns, ocr.end_ns), rel=0.01)
    first, last = tracer.spans[0], tracer.spans[-1]
    assert energy["e2e"]["gross_j"] == pytest.approx(truth(package, first.start_ns, last.end_ns), rel=0.01)
    assert meter.describe()["status"] == "available" and meter.describe()["total_from"] == ["rapl"]


def test_trapezoid_at_10_hz_is_within_two_percent_on_many_spans() -> None:
    trace = SinePower(mean_w=6.0, amplitude_w=2.5, period_s=3.0)
    series = PowerSeries(1, max_gap_ns=300_000_000)
    rng = np.random.default_rng(0)
    t = 0
    for _ in range(300):  # 30 s at 10 Hz, with jitter
        t += int(100_000_000 + rng.integers(-5_000_000, 5_000_000))
        series.append(t, (trace.power(t / 1e9),))
    worst = 0.0
    for _ in range(200):
        start = int(rng.integers(1_000_000_000, 25_000_000_000))
        end = start + int(rng.integers(200_000_000, 3_000_000_000))
        window = series.integrate(start, end)
        worst = max(worst, abs(window.joules[0] / trace.between(start, end) - 1))
        assert window.coverage == 1.0
    assert worst < 0.02


def test_power_sampled_at_10_hz_by_the_sampler_thread_with_idle_baseline_and_net() -> None:
    begin = time.monotonic() + 1.0  # idle until then, busy after

    def power(t_s: float) -> float:
        return 2.0 if t_s < begin else 6.0 + 0.5 * np.sin(2 * np.pi * t_s / 3.0)

    meter = meter_with(replay_power(power, hz=10.0), idle_s=0.3)
    meter.start()
    assert meter.idle_w == pytest.approx(2.0, rel=0.01)
    time.sleep(max(begin - time.monotonic(), 0) + 0.2)
    span, energy = one_span(meter, 1.5)
    meter.stop()
    truth = true_joules(power, span)
    assert energy["gross_j"] == pytest.approx(truth, rel=0.02)
    assert energy["net_j"] == pytest.approx(truth - 2.0 * (span.end_ns - span.start_ns) / 1e9, rel=0.03)
    assert energy["coverage"] > 0.95
    assert meter.describe()["sensors"][0]["sample_hz"] == 10.0


def test_a_sensor_that_vanishes_leaves_later_spans_without_energy_and_marks_partial() -> None:
    sensor = replay_power(lambda t: 3.0, hz=50.0)
    meter = meter_with(sensor)
    meter.start()
    tracer = Tracer()
    with tracer.span("before"):
        time.sleep(0.2)
    meter.wait_ready(tracer.spans[-1].end_ns)  # a sample after its end, then the sensor goes
    sensor.vanish()
    with tracer.span("after"):
        time.sleep(0.2)
    meter.wait_ready(tracer.spans[-1].end_ns)
    energy = meter.frame_energy(tracer.spans)
    meter.stop()
    assert energy["before"]["gross_j"] == pytest.approx(0.6, rel=0.02) and energy["before"]["coverage"] > 0.95
    assert energy["after"]["gross_j"] is None and energy["after"]["coverage"] == 0.0
    status, reason = meter.status()
    assert status == "partial" and "vanished" in reason


def test_totals_take_the_widest_scope_and_never_add_overlapping_sensors() -> None:
    cpu = replay_counter(lambda t: 10.0 * t, wrap_j=1e9)
    board = replay_power(lambda t: 4.0, scope="board")
    supply = replay_power(lambda t: 7.0, scope="supply")
    assert meter_with(cpu, board, supply).describe()["total_from"] == ["replay"]
    meter = meter_with(cpu, board, supply)
    assert meter.in_total == {id(supply)}
    assert meter_with(cpu, board).in_total == {id(board)}


def test_sampler_stops_cleanly_and_promptly() -> None:
    calls = []
    sampler = Sampler([Task("slow", 2.0, lambda: calls.append(time.monotonic()))])
    sampler.stop()  # before start: nothing to do
    sampler.start()
    time.sleep(0.1)
    started = time.monotonic()
    sampler.stop()
    assert time.monotonic() - started < 0.5 and not sampler.running
    sampler.stop()
    assert len(calls) == 1 and sampler.cpu_s >= 0.0 and sampler.wall_s > 0.05


def test_energy_writer_holds_records_until_samples_pass_them(tmp_path: Path) -> None:
    written = []

    class Inner:
        def write(self, record) -> None:
            written.append(record)

        def close(self) -> None:
            written.append("closed")

    meter = meter_with(replay_power(lambda t: 5.0, hz=20.0))
    meter.start()
    writer = EnergyWriter(Inner(), meter)
    time.sleep(0.1)
    now = time.monotonic_ns()
    writer.write({"seq": 0, "spans": [{"name": "ocr", "start_ns": now - 50_000_000, "end_ns": now}]})
    assert written == []  # the sample after its end has not come yet
    writer.close()
    meter.stop()
    assert written[-1] == "closed" and written[0]["energy"]["ocr"]["gross_j"] == pytest.approx(0.25, rel=0.02)


def test_null_meter_passes_records_through_untouched() -> None:
    meter = EnergyMeter(Settings(), [Probe("rapl", reason="no /sys/class/powercap")])
    written = []
    writer = EnergyWriter(type("W", (), {"write": lambda self, r: written.append(r), "close": lambda self: None})(), meter)
    meter.start()
    writer.write({"seq": 0, "spans": [{"name": "ocr", "start_ns": 1, "end_ns": 2}]})
    writer.close()
    meter.stop()
    assert written == [{"seq": 0, "spans": [{"name": "ocr", "start_ns": 1, "end_ns": 2}]}] and meter.listeners == ()
    assert meter.describe()["status"] == "unavailable" and "no /sys/class/powercap" in meter.describe()["reason"]
