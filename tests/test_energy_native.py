"""The C sampler thread (harness.energy.native) against the Python readers on the same fake sysfs trees."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness.energy import ina2xx, jetson
from harness.energy.base import FileChannel, Probe
from harness.energy.meter import EnergyMeter
from harness.energy.native import NativeReader, unavailable_reason
from harness.energy.writer import EnergyWriter
from harness.testing import (
    CounterFileReplay,
    build_fake_ina2xx_tree,
    build_fake_jetson_hwmon_tree,
    build_fake_jetson_iio_tree,
    replay_power,
)
from harness.trace import Tracer

# Where a C compiler exists the install builds the extension, so these tests must run (and fail if it is missing).
pytestmark = pytest.mark.skipif(
    bool(unavailable_reason()) and shutil.which("cc") is None, reason="no C compiler here: the C sampler is not built"
)


@dataclass(frozen=True)
class Settings:
    sensors: tuple[str, ...]
    root: str
    sample_hz: float = 0.0
    native_sampler: bool = True
    enabled: bool = True
    idle_s: float = 0.0
    telemetry_hz: float = 0.0


def drain_after(reader: NativeReader, seconds: float) -> list[tuple[int, tuple[float, ...] | None]]:
    time.sleep(seconds)
    return reader.drain()


def replace(path: Path, text: str) -> None:
    """Write ``path`` anew as the fake trees do: a new inode, the old one unlinked."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="ascii")
    os.replace(temporary, path)


@pytest.mark.parametrize("layout", ["jetpack5", "jetpack4", "ina219"])
def test_the_c_thread_reads_the_same_watts_as_the_python_reader(tmp_path: Path, layout: str) -> None:
    if layout == "jetpack5":
        build_fake_jetson_hwmon_tree(tmp_path, values={"VDD_IN": (5012, 1234)})
        [sensor] = jetson.probe(tmp_path).sensors
    elif layout == "jetpack4":
        build_fake_jetson_iio_tree(tmp_path)
        [sensor] = jetson.probe(tmp_path).sensors
    else:
        build_fake_ina2xx_tree(tmp_path, bus_mv=5100, curr_ma=817)
        [sensor] = ina2xx.probe(tmp_path).sensors
    expected = sensor.read()
    reader = NativeReader(sensor.file_plan(), hz=200.0)
    reader.start()
    samples = drain_after(reader, 0.1)
    assert reader.stop() and not reader.running
    assert samples, "no sample in 0.1 s at 200 Hz"
    for _, row in samples:
        assert row == pytest.approx(tuple(expected[c] for c in sensor.channels), rel=1e-12)
    assert reader.counts() == (0, None)
    sensor.close()


def test_new_values_a_vanished_file_and_its_return(tmp_path: Path) -> None:
    volt, curr = tmp_path / "in1_input", tmp_path / "curr1_input"
    volt.write_text("5000\n")
    curr.write_text("400\n")
    reader = NativeReader((FileChannel((volt, curr), 1e-6),), hz=500.0)
    reader.start()
    assert drain_after(reader, 0.05)[-1][1] == pytest.approx((2.0,))
    with curr.open("r+") as handle:  # changed in place under the open descriptor, as a driver's value
        handle.write("600\n")
    assert drain_after(reader, 0.05)[-1][1] == pytest.approx((3.0,))
    replace(volt, "4000 mv\n")  # replaced: the thread opens the new file; a unit after the number is skipped
    assert drain_after(reader, 0.05)[-1][1] == pytest.approx((2.4,))
    curr.unlink()
    gone = drain_after(reader, 0.05)
    errors, first = reader.counts()
    assert gone and all(row is None for _, row in gone[1:]) and errors >= len(gone) - 1
    assert first == f"cannot read {curr}: No such file or directory"
    curr.write_text("100\n")  # the file comes back (a driver rebound): sampling resumes
    assert drain_after(reader, 0.05)[-1][1] == pytest.approx((0.4,))
    replace(curr, "12abc\n")
    assert drain_after(reader, 0.05)[-1][1] is None
    assert reader.stop()
    assert reader.counts()[1] == first  # the first failure stays the one reported


def test_a_file_that_is_not_a_number_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "power1_input"
    path.write_text("N/A\n")
    reader = NativeReader((FileChannel((path,), 1e-6),), hz=100.0)
    reader.start()
    samples = drain_after(reader, 0.05)
    reader.stop()
    assert samples and all(row is None for _, row in samples)
    assert reader.counts()[1] == f"{path} holds 'N/A', not a number"


def test_ticks_keep_to_the_period_stop_promptly_and_cost_is_measured(tmp_path: Path) -> None:
    path = tmp_path / "power1_input"
    path.write_text("1000000\n")
    reader = NativeReader((FileChannel((path,), 1e-6),), hz=50.0)
    reader.start()
    samples = drain_after(reader, 0.3)
    started = time.monotonic()
    assert reader.stop()
    assert time.monotonic() - started < 0.5  # stop wakes the thread; it does not sleep out its period
    samples += reader.drain()
    times = [t for t, _ in samples]
    assert times == sorted(set(times))
    assert len(samples) <= reader.wall_s * 50 + 1  # never faster than the period, no catch-up bursts
    assert 0 < reader.cpu_s < reader.wall_s
    assert reader.stop()  # twice: nothing to do


def test_the_meter_samples_a_jetson_from_the_c_thread_and_says_so(tmp_path: Path) -> None:
    build_fake_jetson_hwmon_tree(tmp_path)  # VDD_IN 5 V × 1.2 A = 6 W, constant
    for native, sampler in ((True, "C thread"), (False, "Python thread")):
        meter = EnergyMeter(Settings(("ina3221",), str(tmp_path), sample_hz=100.0, native_sampler=native, idle_s=0.2))
        meter.start()
        tracer = Tracer(listeners=meter.listeners)
        with tracer.span("ocr"):
            time.sleep(0.2)
        meter.wait_ready(tracer.spans[-1].end_ns)
        energy = meter.frame_energy(tracer.spans)["ocr"]
        meter.stop()
        seconds = (tracer.spans[-1].end_ns - tracer.spans[-1].start_ns) / 1e9
        assert energy["gross_j"] == pytest.approx(6.0 * seconds, rel=1e-6)
        assert energy["net_j"] == pytest.approx(0.0, abs=1e-6) and energy["coverage"] == 1.0
        described = meter.describe()
        assert described["sensors"][0]["sampler"] == sampler and described["status"] == "available"
        assert meter.sampler.running is False and (meter.sampler.tasks == []) == native
        assert 0 < meter.sampling_cpu_s < meter.sampling_wall_s
        assert described["sampler_wall_s"] == pytest.approx(meter.sampling_wall_s, abs=1e-3)


def test_power_from_files_at_10_hz_through_the_c_thread_within_two_percent(tmp_path: Path) -> None:
    power_file = build_fake_ina2xx_tree(tmp_path)
    begin = time.monotonic() + 0.6

    def watts(t_s: float) -> float:
        return 2.0 if t_s < begin else 6.0 + 0.5 * np.sin(2 * np.pi * t_s / 3.0)

    # The replay thread writes value × 1e6 every 1 ms: here watts → µW in power1_input (no wrap).
    with CounterFileReplay({power_file: watts}, wrap_uj=2**62) as replay:
        meter = EnergyMeter(Settings(("ina2xx",), str(tmp_path), sample_hz=10.0, idle_s=0.4))
        meter.start()
        time.sleep(max(begin - time.monotonic(), 0) + 0.2)
        tracer = Tracer(listeners=meter.listeners)
        with tracer.span("ocr"):
            time.sleep(1.5)
        [span] = tracer.spans
        meter.wait_ready(span.end_ns)
        energy = meter.frame_energy(tracer.spans)["ocr"]
        meter.stop()
        assert replay.written_s[-1] > span.end_ns / 1e9
    assert meter.idle_w == pytest.approx(2.0, rel=0.01)
    grid = np.linspace(span.start_ns / 1e9, span.end_ns / 1e9, 20001)
    truth = float(np.mean([watts(t) for t in grid])) * (span.end_ns - span.start_ns) / 1e9
    assert energy["gross_j"] == pytest.approx(truth, rel=0.02)
    assert energy["net_j"] == pytest.approx(truth - 2.0 * (span.end_ns - span.start_ns) / 1e9, rel=0.03)
    assert meter.describe()["sensors"][0]["sampler"] == "C thread"


def test_sensors_without_files_stay_on_the_python_thread(tmp_path: Path) -> None:
    meter = EnergyMeter(Settings(("replay",), str(tmp_path)), [Probe("replay", [replay_power(lambda t: 1.0)])])
    assert meter.power[0].native is None and meter.power[0].sampler == "Python thread"
    assert [task.name for task in meter.sampler.tasks] == ["replay"]


def test_the_energy_writer_stops_the_c_thread_and_attributes_the_last_frame(tmp_path: Path) -> None:
    build_fake_ina2xx_tree(tmp_path, bus_mv=5000, curr_ma=1000)  # 5 W
    meter = EnergyMeter(Settings(("ina2xx",), str(tmp_path), sample_hz=20.0))
    written: list = []

    class Inner:
        def write(self, record) -> None:
            written.append(record)

        def close(self) -> None:
            written.append("closed")

    meter.start()
    writer = EnergyWriter(Inner(), meter)
    time.sleep(0.1)
    now = time.monotonic_ns()
    writer.write({"seq": 0, "spans": [{"name": "ocr", "start_ns": now - 50_000_000, "end_ns": now}]})
    writer.close()
    assert not meter.power[0].native.running
    meter.stop()
    assert written[-1] == "closed" and written[0]["energy"]["ocr"]["gross_j"] == pytest.approx(0.25, rel=1e-6)


def test_the_overhead_benchmark_runs_both_samplers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.energy import overhead

    assert overhead.main(["--seconds", "0.1", "--repeats", "1", "--out", str(tmp_path)]) == 0
    [result] = tmp_path.glob("*.json")
    rows = json.loads(result.read_text())["rows"]
    assert [r["sampler"] for r in rows if r["sensors"] == "ina3221"] == ["C thread"] * 3 + ["Python thread"] * 3
    assert [r["sampler"] for r in rows if r["sensors"] == "replay"] == ["Python thread"] * 3
    assert all(r["errors"] == 0 for r in rows) and all(r["samples"] > 0 for r in rows if r["hz"])
    assert "C thread" in capsys.readouterr().out
