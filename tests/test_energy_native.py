"""The C sampler thread (harness.energy.native) against the Python readers on the same fake sysfs trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness.energy import ina2xx, jetson
from harness.energy.base import FileChannel, Probe, SensorError, parse_number
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
from tests.energy_spans import one_span, true_joules

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


Sample = tuple[int, tuple[float, ...] | None]


def samples_after(reader: NativeReader, timeout_s: float = 5.0) -> list[Sample]:
    """The samples the thread takes after now (waiting, up to ``timeout_s``, until there is one)."""
    since = time.monotonic_ns() + 1_000_000  # a read that began before the change is stamped within microseconds of it
    reader.drain()
    found: list[Sample] = []
    deadline = time.monotonic() + timeout_s
    while not found and time.monotonic() < deadline:
        time.sleep(0.01)
        found = [sample for sample in reader.drain() if sample[0] > since]
    assert found, f"no sample within {timeout_s} s"
    return found


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
    samples = samples_after(reader)
    assert reader.stop() and not reader.running
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
    assert samples_after(reader)[-1][1] == pytest.approx((2.0,))
    with curr.open("r+") as handle:  # changed in place under the open descriptor, as a driver's value
        handle.write("600\n")
    assert samples_after(reader)[-1][1] == pytest.approx((3.0,))
    replace(volt, "4000 mv\n")  # replaced: the thread opens the new file; a unit after the number is skipped
    assert samples_after(reader)[-1][1] == pytest.approx((2.4,))
    curr.unlink()
    gone = samples_after(reader)
    errors, first = reader.counts()
    assert all(row is None for _, row in gone) and errors >= len(gone)
    assert first == f"cannot read {curr}: No such file or directory"
    replace(curr, "100\n")  # the file comes back (a driver rebound): sampling resumes
    assert samples_after(reader)[-1][1] == pytest.approx((0.4,))
    replace(curr, "12abc\n")
    assert all(row is None for _, row in samples_after(reader))
    assert reader.stop()
    assert reader.counts()[1] == first  # the first failure stays the one reported


@pytest.mark.parametrize(
    "text", ["350 ma\n", "\x00123\x00", "123\r\n", "-5\n", "+.5e1\n", "7.\n", "N/A\n", "0x10\n", "1e400\n", "12abc\n", "", "9" * 70]
)
def test_the_c_thread_and_python_accept_the_same_numbers(tmp_path: Path, text: str) -> None:
    path = tmp_path / "power1_input"
    path.write_bytes(text.encode("ascii"))
    try:
        expected: float | str = parse_number(path, text.encode("ascii"))
    except SensorError as exc:
        expected = str(exc)
    reader = NativeReader((FileChannel((path,), 1.0),), hz=200.0)
    reader.start()
    [(_, row), *_] = samples_after(reader)
    assert reader.stop()
    assert (row[0] if row else reader.counts()[1]) == expected


def test_stop_wakes_the_thread_and_cost_is_measured(tmp_path: Path) -> None:
    path = tmp_path / "power1_input"
    path.write_text("1000000\n")
    reader = NativeReader((FileChannel((path,), 1e-6),), hz=0.2)  # one tick every 5 s
    reader.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert reader.stop()
    assert time.monotonic() - started < 2.0  # without the wake-up it would sleep out its 5-s period
    samples = reader.drain()
    assert len(samples) == 1 and samples[0][1] == pytest.approx((1.0,))  # the first tick, at start
    assert 0 < reader.cpu_s < reader.wall_s < 2.5
    assert reader.stop() and not reader.running  # twice: nothing to do


def test_a_thread_stuck_in_a_read_is_reported_and_left_running(tmp_path: Path) -> None:
    fifo = tmp_path / "power1_input"
    os.mkfifo(fifo)  # opening a FIFO to read blocks until a writer comes: a read that never returns
    reader = NativeReader((FileChannel((fifo,), 1e-6),), hz=100.0)
    reader.start()
    time.sleep(0.1)
    assert reader.stop(timeout_s=0.2) is False and reader.running
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # releases the blocked open
    os.close(writer)
    assert reader.stop() and not reader.running
    assert "power1_input" in reader.counts()[1]  # a FIFO cannot be read at an offset: a failed sample


def test_a_stuck_sampler_freed_while_an_exception_unwinds_does_not_crash(tmp_path: Path) -> None:
    fifo = tmp_path / "power1_input"
    os.mkfifo(fifo)
    script = (
        "from pathlib import Path\n"
        "from harness.energy.base import FileChannel\n"
        "from harness.energy.native import NativeReader\n"
        "def stuck():\n"
        f"    reader = NativeReader((FileChannel((Path({str(fifo)!r}),), 1.0),), hz=100.0)\n"
        "    reader.start()\n"
        "    return reader\n"
        "print(stuck(), 1 / 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.rstrip().endswith("ZeroDivisionError: division by zero"), done.stderr


def test_in_a_forked_child_the_sampler_is_stopped_and_freeing_it_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "power1_input"
    path.write_text("1000000\n")
    reader = NativeReader((FileChannel((path,), 1e-6),), hz=200.0)
    reader.start()
    samples_after(reader)
    pid = os.fork()
    if pid == 0:  # the child: no sampler thread here
        ok = not reader.running and reader.stop() and isinstance(reader.drain(), list)
        del reader
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0
    assert reader.running and samples_after(reader)  # the parent's thread goes on
    assert reader.stop()


def test_the_meter_samples_a_jetson_from_the_c_thread_and_says_so(tmp_path: Path) -> None:
    build_fake_jetson_hwmon_tree(tmp_path)  # VDD_IN 5 V × 1.2 A = 6 W, constant
    for native, sampler in ((True, "C thread"), (False, "Python thread: [energy] native_sampler = false")):
        meter = EnergyMeter(Settings(("ina3221",), str(tmp_path), sample_hz=20.0, native_sampler=native, idle_s=0.2))
        meter.start()
        span, energy = one_span(meter, 0.3)
        meter.stop()
        seconds = (span.end_ns - span.start_ns) / 1e9
        assert energy["gross_j"] == pytest.approx(6.0 * seconds, rel=1e-6)
        assert energy["net_j"] == pytest.approx(0.0, abs=1e-6) and energy["coverage"] > 0.9
        described = meter.describe()
        assert described["sensors"][0]["sampler"] == sampler and described["status"] == "available"
        assert meter.sampler.running is False and (meter.sampler.tasks == []) == native
        assert 0 < meter.sampling_cpu_s < meter.sampling_wall_s
        assert described["sampler_wall_s"] == pytest.approx(meter.sampling_wall_s, abs=1e-3)


def test_power_from_files_at_10_hz_through_the_c_thread_within_two_percent(tmp_path: Path) -> None:
    power_file = build_fake_ina2xx_tree(tmp_path)
    begin = time.monotonic() + 2.0  # idle (2 W) until the baseline has surely ended, busy after

    def watts(t_s: float) -> float:
        return 2.0 if t_s < begin else 6.0 + 0.5 * np.sin(2 * np.pi * t_s / 3.0)

    # The replay thread writes value × 1e6 every 1 ms: here watts → µW in power1_input (no wrap).
    with CounterFileReplay({power_file: watts}, wrap_uj=2**62) as replay:
        meter = EnergyMeter(Settings(("ina2xx",), str(tmp_path), sample_hz=10.0, idle_s=0.4))
        meter.start()
        time.sleep(max(begin - time.monotonic(), 0) + 0.2)
        span, energy = one_span(meter, 1.5)
        meter.stop()
        assert replay.written_s[-1] > span.end_ns / 1e9
    assert meter.idle_w == pytest.approx(2.0, rel=0.01)
    truth = true_joules(watts, span)
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
