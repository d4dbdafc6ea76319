"""Telemetry and system state on fake trees: throttling signals, show/tune, the sensors command."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.system.state import show_system
from harness.system.telemetry import TelemetryCollector
from harness.system.throttle import decode_throttled
from harness.testing import build_fake_jetson_iio_tree, build_fake_jetson_tools, build_fake_system_tree, build_fake_vcgencmd

PI5 = "Raspberry Pi 5 Model B Rev 1.0"


def test_get_throttled_bits() -> None:
    assert decode_throttled("throttled=0x0") == {"raw": "0x0", "value": 0, "flags": []}
    state = decode_throttled("throttled=0x50005\n")
    assert state["flags"] == ["under-voltage detected", "currently throttled", "under-voltage has occurred", "throttling has occurred"]
    assert decode_throttled("error") is None


def _stat(root: Path, busy: int, idle: int) -> None:
    lines = [f"cpu{n} {busy} 0 0 {idle} 0 0 0 0 0 0" for n in range(4)]
    (root / "proc/stat").write_text("cpu  0 0 0 0 0 0 0 0 0 0\n" + "\n".join(lines) + "\nintr 0\n")


def test_busy_cores_below_max_frequency_and_pi_bits_flag_throttling(tmp_path: Path) -> None:
    build_fake_system_tree(tmp_path, device_model=PI5, governor="ondemand")
    build_fake_vcgencmd(tmp_path)
    policy = tmp_path / "sys/devices/system/cpu/cpufreq/policy0"
    (policy / "scaling_cur_freq").write_text("1500000\n")  # 62% of the 2.4 GHz maximum
    collector = TelemetryCollector(tmp_path)
    _stat(tmp_path, 100, 100)
    collector.begin()
    for step in range(1, 6):
        _stat(tmp_path, 100 + 100 * step, 100)  # fully busy
        collector.sample()
    (tmp_path / "usr/share/fake-vcgencmd/get_throttled").write_text("throttled=0x40000\n")
    (policy / "scaling_max_freq").write_text("1800000\n")
    collector.sample()
    collector.end()
    summary = collector.summary()
    assert summary["throttled"] and summary["util"]["cpu0"]["mean"] == 1.0
    evidence = " | ".join(summary["throttle_evidence"])
    assert "below 80%" in evidence and "throttling has occurred" in evidence and "lowered from 2400000 to 1800000" in evidence
    assert summary["freq_khz"]["cpu0"]["max"] == 1500000 and summary["rss_mb"]["max"] > 10


def test_a_quiet_machine_is_not_throttled(tmp_path: Path) -> None:
    build_fake_system_tree(tmp_path, governor="performance")
    collector = TelemetryCollector(tmp_path)
    _stat(tmp_path, 100, 100)
    collector.begin()
    for step in range(1, 6):
        _stat(tmp_path, 100 + 10 * step, 100 + 90 * step)
        collector.sample()
    collector.end()
    assert not collector.summary()["throttled"] and "get_throttled: no vcgencmd (not a Raspberry Pi)" in collector.summary()["unavailable"]


def test_system_show_on_a_jetson_with_jetson_clocks(tmp_path: Path) -> None:
    build_fake_system_tree(tmp_path, device_model="NVIDIA Jetson Nano Developer Kit", tegra=True, governor="schedutil")
    build_fake_jetson_tools(tmp_path, mode="5W", mode_id=1)
    state = show_system(tmp_path)
    assert state["nvpmodel"] == {"mode": "5W", "id": 1} and state["jetson_clocks"] == "off" and state["governors"] == ["schedutil"]
    for policy in (tmp_path / "sys/devices/system/cpu/cpufreq").iterdir():
        (policy / "scaling_min_freq").write_text((policy / "cpuinfo_max_freq").read_text())
    assert show_system(tmp_path)["jetson_clocks"] == "on"


def test_sensors_command_lists_found_and_absent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_fake_jetson_iio_tree(tmp_path)
    assert main(["sensors", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "* found   ina3221" in out and "POM_5V_IN, POM_5V_GPU, POM_5V_CPU (total: POM_5V_IN" in out
    assert "sampler: C thread (harness.energy.native)" in out or "sampler: Python thread: the C sampler is not built" in out
    assert "absent  rapl" in out and "absent  pi5_pmic    no vcgencmd" in out


def test_system_show_and_tune_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    build_fake_system_tree(tmp_path, device_model=PI5)
    build_fake_vcgencmd(tmp_path, throttled="0x50000")
    assert main(["system", "show", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "governor schedutil" in out and "throttled: 0x50000 under-voltage has occurred, throttling has occurred" in out
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["system", "tune", "--device", "rpi5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs root" in err[0] and "sudo arbench system tune" in err[0]


def test_throttling_is_unknown_where_no_signal_can_be_read(tmp_path: Path) -> None:
    from harness.energy.manifest import energy_validity
    from harness.run.outcome import Outcome

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "stat").write_text("cpu0 1 0 1 100 0 0 0 0\n")
    collector = TelemetryCollector(tmp_path)  # no cpufreq, no thermal_throttle, no vcgencmd: a VM
    collector.begin()
    collector.sample()
    collector.end()
    assert collector.summary()["throttled"] is None
    unknown = Outcome("c", "complete", telemetry=collector.summary())
    quiet = Outcome("d", "complete", telemetry={"throttled": False})
    assert energy_validity([unknown])["throttled"] is None
    assert energy_validity([quiet])["throttled"] is False
    assert energy_validity([quiet, Outcome("e", "complete", telemetry={"throttled": True})])["throttled"] is True
