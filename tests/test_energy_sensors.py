"""Each energy-sensor reader against a fake tree laid out as the real one (harness.testing)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.energy import ina2xx, jetson, nvml, pi5, rapl, tegrastats
from harness.energy.base import SensorError
from harness.energy.pi5 import parse_pmic
from harness.energy.registry import probe_sensors
from harness.energy.settings import EnergySettings
from harness.energy.tegrastats import parse_tegrastats
from harness.testing import (
    AGX_ORIN,
    PI5_PMIC_OUTPUT,
    build_fake_ina2xx_tree,
    build_fake_jetson_hwmon_tree,
    build_fake_jetson_iio_tree,
    build_fake_rapl_tree,
    build_fake_tegrastats,
    build_fake_vcgencmd,
)
from tests.nvml_fixtures import fake_pynvml

REPO = Path(__file__).resolve().parent.parent


# --- RAPL ----------------------------------------------------------------------------------------------


def test_rapl_laptop_tree_domains_total_and_units(tmp_path: Path) -> None:
    fake = build_fake_rapl_tree(tmp_path, packages=11)
    assert (tmp_path / "sys/class/powercap/intel-rapl:a").is_symlink()  # the eleventh package, hex id
    assert (tmp_path / "sys/class/powercap/intel-rapl:0/subsystem").resolve() == (tmp_path / "sys/class/powercap").resolve()
    assert oct(fake.energy_files["package-0"].stat().st_mode & 0o777) == "0o400"
    [sensor] = rapl.probe(tmp_path).sensors
    assert "package-10" in sensor.channels and "package-10.core" in sensor.channels and "psys" in sensor.channels
    assert "psys" not in sensor.total and "package-0.core" not in sensor.total and "package-10" in sensor.total
    assert any("intel-rapl-mmio:0" in note and "duplicates" in note for note in sensor.notes)
    assert sum(1 for c in sensor.channels if c == "package-0") == 1
    values = sensor.read()
    assert values["package-0"] == pytest.approx(65997.277274)
    assert sensor.wrap_j["package-0"] == pytest.approx(262143.32885)


def test_rapl_server_tree_counts_dram_with_the_package(tmp_path: Path) -> None:
    build_fake_rapl_tree(tmp_path, packages=2, subzones=("dram",), psys=False, mmio=False)
    [sensor] = rapl.probe(tmp_path).sensors
    assert sensor.total == ("package-0", "package-1", "package-0.dram", "package-1.dram")


def test_rapl_mmio_only_is_kept(tmp_path: Path) -> None:
    build_fake_rapl_tree(tmp_path, packages=0, psys=False)
    [sensor] = rapl.probe(tmp_path).sensors
    assert sensor.channels == ("package-0",)


def test_rapl_absent_says_why(tmp_path: Path) -> None:
    probe = rapl.probe(tmp_path)
    assert not probe.found and "no /sys/class/powercap" in probe.reason


def test_rapl_vanished_file_is_a_sensor_error(tmp_path: Path) -> None:
    fake = build_fake_rapl_tree(tmp_path)
    [sensor] = rapl.probe(tmp_path).sensors
    fake.energy_files["package-0"].unlink()
    with pytest.raises(SensorError, match="energy_uj"):
        sensor.read()


PROBE_AS_NOBODY = """
import json, sys
from pathlib import Path
from harness.energy import rapl
result = {}
for name in sys.argv[1:]:
    p = rapl.probe(Path(name))
    result[name] = {"found": p.found, "reason": p.reason, "notes": p.sensors[0].notes if p.found else []}
print(json.dumps(result))
"""


def _probe_unprivileged(roots: list[Path]) -> dict:
    """Probe as an ordinary user: root reads 0400 files regardless, which is the point of the test."""
    if os.geteuid() != 0:
        return json.loads(
            subprocess.check_output(["python3", "-c", PROBE_AS_NOBODY, *map(str, roots)], env={**os.environ, "PYTHONPATH": str(REPO)})
        )
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        pytest.skip("no system python3 to run as an unprivileged user")
    done = subprocess.run(
        [python, "-c", PROBE_AS_NOBODY, *map(str, roots)],
        capture_output=True,
        text=True,
        user=65534,
        env={"PYTHONPATH": str(REPO)},
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot run as nobody here: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def test_rapl_root_only_energy_gives_one_line_with_the_fix() -> None:
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        locked, range_locked = base / "locked", base / "range-locked"
        build_fake_rapl_tree(locked)  # energy_uj 0400, as since Linux 5.10
        build_fake_rapl_tree(range_locked, energy_mode=0o444, max_mode=0o400)  # someone opened energy_uj only
        result = _probe_unprivileged([locked, range_locked])
    finally:
        shutil.rmtree(base)
    first = result[str(locked)]
    assert not first["found"] and "\n" not in first["reason"]
    assert "permission denied reading /sys/class/powercap/intel-rapl:0/energy_uj" in first["reason"]
    assert "CVE-2020-8694" in first["reason"] and "chmod" in first["reason"]
    second = result[str(range_locked)]
    assert second["found"] and any("max_energy_range_uj unreadable" in n for n in second["notes"])


# --- NVML (the library mocked at its boundary) ---------------------------------------------------------


def test_nvml_volta_counter_and_older_power(monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_pynvml({0: 123_456}, {0: 250_000, 1: 75_500})
    monkeypatch.setitem(__import__("sys").modules, "pynvml", module)
    counter, power, check = nvml.probe().sensors
    assert (counter.kind, counter.channels, counter.read()) == ("counter", ("gpu0",), {"gpu0": pytest.approx(123.456)})
    assert (power.kind, power.channels, power.read()) == ("power", ("gpu1",), {"gpu1": pytest.approx(75.5)})
    assert (check.name, check.kind, check.channels, check.total) == ("nvml-power", "power", ("gpu0",), ())  # never in the total
    assert check.read() == {"gpu0": pytest.approx(250.0)}
    state = counter.describe()["gpus"]["gpu0"]
    assert state == {
        "name": "NVIDIA H200 #0", "architecture": 7, "sm_clock_mhz": 1980, "mem_clock_mhz": 3201, "max_sm_clock_mhz": 1980,
        "max_mem_clock_mhz": 3201, "power_limit_w": 700.0, "power_averaging": state["power_averaging"],
    }  # fmt: skip
    assert state["power_averaging"].startswith("1 s running average")
    for sensor in (counter, power, check):
        sensor.close()
    assert module.inits == 0


def test_nvml_counter_and_integrated_power_agree_through_the_meter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GPU drawing 300 W: the counter (mJ since start) and the sampled power give the same joules for a 0.8 s span."""
    from harness.energy.meter import EnergyMeter

    started = time.monotonic()
    module = fake_pynvml({0: lambda: 300_000 * (time.monotonic() - started)}, {0: 300_000})
    monkeypatch.setitem(__import__("sys").modules, "pynvml", module)
    meter = EnergyMeter(EnergySettings(sensors=("nvml",), idle_s=0.0, telemetry_hz=0.0), [nvml.probe()])
    meter.start()
    try:
        start = time.monotonic_ns()
        meter.listener.span_started("ocr", start)
        time.sleep(0.8)
        end = time.monotonic_ns()
        meter.listener.span_ended("ocr", end)
        meter.wait_ready(end)
        energy = meter.frame_energy([{"name": "ocr", "start_ns": start, "end_ns": end}])
    finally:
        meter.stop()
    domains = energy["ocr"]["domains"]
    assert domains["nvml:gpu0"] == pytest.approx(300 * (end - start) / 1e9, rel=0.02)
    assert domains["nvml-power:gpu0"] == pytest.approx(domains["nvml:gpu0"], rel=0.05)
    assert energy["ocr"]["gross_j"] == domains["nvml:gpu0"]  # the check is not added to the total
    records = [{"warmup": False, "ok": True, "energy": {"e2e": energy["ocr"]}}]
    agreement = nvml.counter_power_agreement(records)["gpu0"]
    assert abs(agreement["ratio"] - 1) < nvml.AGREEMENT_TOLERANCE


def test_nvml_absent_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pynvml", None)
    probe = nvml.probe()
    assert not probe.found and "pip install arbench[energy]" in probe.reason


# --- Jetson --------------------------------------------------------------------------------------------


def test_jetpack4_iio_rails_total_is_the_input_rail(tmp_path: Path) -> None:
    build_fake_jetson_iio_tree(tmp_path)
    [sensor] = jetson.probe(tmp_path).sensors
    assert sensor.channels == ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU") and sensor.total == ("POM_5V_IN",)
    assert sensor.read() == {"POM_5V_IN": pytest.approx(4.990), "POM_5V_GPU": 0.0, "POM_5V_CPU": pytest.approx(0.839)}
    assert sensor.limits_ma == {"POM_5V_IN": 4000, "POM_5V_GPU": 3000, "POM_5V_CPU": 3000}  # "4000 ma\n" read through its suffix
    assert sensor.refresh_s == pytest.approx(0.422)


def test_jetpack5_hwmon_orin_nx_multiplies_volts_by_amps(tmp_path: Path) -> None:
    build_fake_jetson_hwmon_tree(tmp_path, values={"VDD_IN": (5008, 1480), "VDD_CPU_GPU_CV": (5000, 120), "VDD_SOC": (5000, 300)})
    [sensor] = jetson.probe(tmp_path).sensors
    assert sensor.channels == ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC") and sensor.total == ("VDD_IN",)
    assert sensor.read()["VDD_IN"] == pytest.approx(5.008 * 1.480)
    assert sensor.refresh_s == pytest.approx(0.026)


def test_jetpack5_agx_orin_skips_nc_and_the_sum_channel_across_unstable_hwmon_numbers(tmp_path: Path) -> None:
    build_fake_jetson_hwmon_tree(tmp_path, AGX_ORIN)
    assert (tmp_path / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/in7_label").is_file()
    assert (tmp_path / "sys/bus/i2c/drivers/ina3221/1-0041/hwmon/hwmon2/in1_label").read_text() == "NC\n"
    [sensor] = jetson.probe(tmp_path).sensors
    assert sensor.channels == ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO")
    assert sensor.total == sensor.channels and any("no input rail" in n for n in sensor.notes)


TEGRASTATS = {
    "RAM 2270/3964MB (lfb 1x4MB) SWAP 0/1982MB CPU [2%@1479,1%@1479] EMC_FREQ 0% GR3D_FREQ 0% PLL@25C POM_5V_IN 933/933 POM_5V_GPU 0/0 "
    "POM_5V_CPU 84/84": {"POM_5V_IN": 0.933, "POM_5V_GPU": 0.0, "POM_5V_CPU": 0.084},
    "RAM 1660/7860MB (lfb 1x2MB) VDD_IN 1038/1134 VDD_CPU 153/153 VDD_GPU 153/153 VDD_SOC 384/384": {
        "VDD_IN": 1.038, "VDD_CPU": 0.153, "VDD_GPU": 0.153, "VDD_SOC": 0.384,
    },
    "07-14-2025 10:29:36 RAM 2147/7620MB (lfb 2x4MB) SWAP 0/3810MB (cached 0MB) CPU [0%@729,0%@729] VDD_IN 4556mW/4556mW "
    "VDD_CPU_GPU_CV 483mW/483mW VDD_SOC 1451mW/1451mW": {"VDD_IN": 4.556, "VDD_CPU_GPU_CV": 0.483, "VDD_SOC": 1.451},
    "RAM 5000/62000MB VDD_GPU_SOC 5139mW/5139mW/5139mW VDD_CPU_CV 3268mW/3268mW/3268mW VIN_SYS_5V0 5500mW/5500mW/5500mW": {
        "VDD_GPU_SOC": 5.139, "VDD_CPU_CV": 3.268, "VIN_SYS_5V0": 5.5,
    },
}  # fmt: skip


@pytest.mark.parametrize("line", list(TEGRASTATS))
def test_tegrastats_lines_of_every_jetpack(line: str) -> None:
    assert parse_tegrastats(line) == pytest.approx(TEGRASTATS[line])


def test_tegrastats_process_as_a_source(tmp_path: Path) -> None:
    build_fake_tegrastats(tmp_path, [next(iter(TEGRASTATS))])
    [sensor] = tegrastats.probe(tmp_path, interval_ms=50).sensors
    try:
        assert sensor.total == ("POM_5V_IN",) and sensor.read()["POM_5V_IN"] == pytest.approx(0.933)
        first = sensor.sample_ns
        deadline = __import__("time").monotonic() + 2
        while sensor.sample_ns == first and __import__("time").monotonic() < deadline:
            __import__("time").sleep(0.01)
        assert sensor.sample_ns > first  # each new line is a new sample time
    finally:
        sensor.close()
    assert sensor.process.poll() is not None


def test_tegrastats_is_not_used_when_the_sysfs_rails_are_there(tmp_path: Path) -> None:
    build_fake_jetson_hwmon_tree(tmp_path)
    build_fake_tegrastats(tmp_path, [next(iter(TEGRASTATS))])
    probes = {p.name: p for p in probe_sensors(("auto",), tmp_path)}
    assert probes["ina3221"].found and not probes["tegrastats"].found and "ina3221" in probes["tegrastats"].reason


# --- INA219 / INA226 -----------------------------------------------------------------------------------


def test_ina219_power_is_microwatts(tmp_path: Path) -> None:
    build_fake_ina2xx_tree(tmp_path, hwmon=4, bus_mv=5100, curr_ma=800)
    [sensor] = ina2xx.probe(tmp_path).sensors
    assert sensor.channels == ("ina219@1-0040",) and sensor.read() == {"ina219@1-0040": pytest.approx(4.08)}
    assert sensor.scope == "supply" and sensor.refresh_s == pytest.approx(0.0011)


def test_ina226_refresh_from_update_interval(tmp_path: Path) -> None:
    build_fake_ina2xx_tree(tmp_path, chip="ina226", hwmon=1, device="3-0045")
    [sensor] = ina2xx.probe(tmp_path).sensors
    assert sensor.channels == ("ina226@3-0045",) and sensor.refresh_s == pytest.approx(0.035)


# --- Raspberry Pi 5 PMIC -------------------------------------------------------------------------------


def test_pmic_rails_are_paired_by_name_not_index() -> None:
    watts, volts = parse_pmic(PI5_PMIC_OUTPUT + "\x00")
    assert len(watts) == 12 and watts["VDD_CORE"] == pytest.approx(6.22421 * 0.861733)
    assert watts["DDR_VDDQ"] == 0.0  # DDR rails read exactly 0 A at idle
    assert volts == {"EXT5V": pytest.approx(5.09066), "BATT": 0.0}


def test_pmic_nan_voltage_only_rail_is_not_a_rail() -> None:
    text = PI5_PMIC_OUTPUT.replace("BATT_V volt(25)=0.00000000V", "BATT_V volt(25)=nanV")
    watts, volts = parse_pmic(text)
    assert "BATT" not in watts and math.isnan(volts["BATT"])


def test_pmic_through_the_fake_vcgencmd(tmp_path: Path) -> None:
    build_fake_vcgencmd(tmp_path)
    [sensor] = pi5.probe(tmp_path).sensors
    assert sensor.total == sensor.channels and "EXT5V" in sensor.input_v and "internal rails only" in sensor.notes[0]
    assert sum(sensor.read().values()) == pytest.approx(sum(parse_pmic(PI5_PMIC_OUTPUT)[0].values()))


def test_pmic_command_is_injectable_and_a_missing_rail_is_an_error() -> None:
    outputs = iter([PI5_PMIC_OUTPUT, PI5_PMIC_OUTPUT.replace("VDD_CORE_A", "XXX")])
    [sensor] = pi5.probe(run=lambda: next(outputs)).sensors
    with pytest.raises(SensorError, match="VDD_CORE"):
        sensor.read()


def test_nothing_found_lists_every_reason(tmp_path: Path) -> None:
    probes = probe_sensors(("auto",), tmp_path)
    assert [p.name for p in probes] == ["rapl", "nvml", "ina3221", "tegrastats", "ina2xx", "pi5_pmic"]
    assert not any(p.found for p in probes if p.name != "nvml") and all(p.reason for p in probes if not p.found)


def test_kept_open_files_see_new_values_replacements_and_vanishing(tmp_path: Path) -> None:
    from harness.energy.base import OpenFiles

    path = tmp_path / "in1_input"
    path.write_text("5000\n")
    files = OpenFiles()
    assert files.number(path) == 5000.0
    with path.open("r+") as handle:  # written in place, as a driver's value changes under an open descriptor
        handle.write("4990\n")
    assert files.number(path) == 4990.0
    replacement = tmp_path / ".in1_input.tmp"
    replacement.write_text("123 ma\n")
    os.replace(replacement, path)  # as the fake trees update files: the old inode is unlinked
    assert files.number(path) == 123.0
    path.unlink()
    with pytest.raises(SensorError, match="in1_input"):
        files.number(path)
    path.write_text("7\n")  # the file comes back (a driver rebound): reading resumes
    assert files.number(path) == 7.0
    files.close()
    assert files._fds == {}


def test_a_jetson_sensor_keeps_its_rail_files_open_between_samples(tmp_path: Path) -> None:
    rails = build_fake_jetson_hwmon_tree(tmp_path)
    [sensor] = jetson.probe(tmp_path).sensors
    first = sensor.read()
    opened = len(sensor.open_files._fds)
    assert opened == 2 * len(sensor.channels)
    assert sensor.read() == first and len(sensor.open_files._fds) == opened
    rails["VDD_IN"][1].unlink()
    with pytest.raises(SensorError, match="curr1_input"):
        sensor.read()
    sensor.close()
    assert sensor.open_files._fds == {}


PYRAPL_PROBE = (
    "import json; from harness.energy import pyrapl; p = pyrapl.probe(); s = p.sensors[0] if p.found else None; "
    "print(json.dumps({'reason': p.reason, 'channels': list(s.channels) if s else [], 'read': s.read() if s else {}}))"
)


def test_pyrapl_reads_the_same_joules_as_the_rapl_reader_from_a_server_tree(tmp_path: Path) -> None:
    # pyRAPL reads the real /sys only, so a private mount namespace puts the fake tree there (root needed).
    pytest.importorskip("pyRAPL")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a fake /sys in a private mount namespace")
    from harness.testing import build_fake_system_tree

    root = build_fake_system_tree(tmp_path / "root", cpus=4)
    build_fake_rapl_tree(root, subzones=("dram",), psys=False, energy_mode=0o444)
    script = f'mount --bind "{root}/sys" /sys && exec "{sys.executable}" -c "{PYRAPL_PROBE}"'
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount in a private namespace here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["channels"] == ["package-0", "dram-0"] and "wrap-around" in seen["reason"]
    [ours] = rapl.probe(root).sensors
    expected = ours.read()
    assert seen["read"]["package-0"] == pytest.approx(expected["package-0"])
    assert seen["read"]["dram-0"] == pytest.approx(expected["package-0.dram"])


def test_nvml_agreement_sums_measured_frames_only() -> None:
    def record(counter: float, power: float | None, warmup: bool = False) -> dict:
        return {"warmup": warmup, "ok": True, "energy": {"e2e": {"domains": {"nvml:gpu0": counter, "nvml-power:gpu0": power}}}}

    records = [record(5.0, 6.5), record(5.0, 6.5), record(100.0, 1.0, warmup=True), record(3.0, None)]
    figures = nvml.counter_power_agreement(records)["gpu0"]
    assert figures == {"counter_j": 10.0, "integrated_j": 13.0, "ratio": pytest.approx(1.3)}  # a frame without both is left out
    assert abs(figures["ratio"] - 1) > nvml.AGREEMENT_TOLERANCE  # the report says so (report.checks.gpu_energy_lines)
    assert nvml.counter_power_agreement([{"warmup": False, "ok": True, "energy": {"e2e": {"domains": {"rapl:package-0": 3.0}}}}]) == {}
