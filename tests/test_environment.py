"""Environment capture against fake Pi, Jetson and laptop trees, and on the machine running the tests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from harness.system.board import detect_device
from harness.system.cpu import parse_cpu_list
from harness.system.environment import capture_environment
from harness.system.fingerprint import fingerprint_models
from harness.system.software import PACKAGES, binary_versions, git_state, package_versions
from harness.testing import build_fake_system_tree

PI5_MODEL = "Raspberry Pi 5 Model B Rev 1.0"
ORIN_MODEL = "NVIDIA Jetson AGX Orin Developer Kit"
NANO_MODEL = "NVIDIA Jetson Nano Developer Kit"


@pytest.fixture
def pi5(tmp_path: Path) -> Path:
    return build_fake_system_tree(tmp_path / "pi5", device_model=PI5_MODEL, governor="performance", thermal_c=(47.25,))


@pytest.fixture
def orin(tmp_path: Path) -> Path:
    return build_fake_system_tree(tmp_path / "orin", cpus=12, device_model=ORIN_MODEL, tegra=True, thermal_c=(41.5, 43.0, 40.25))


@pytest.fixture
def nano(tmp_path: Path) -> Path:
    return build_fake_system_tree(tmp_path / "nano", device_model=NANO_MODEL, tegra=True, governor="powersave")


@pytest.fixture
def laptop(tmp_path: Path) -> Path:
    return build_fake_system_tree(tmp_path / "laptop", governor=None, thermal_c=())


def test_fake_tree_uses_real_file_formats(pi5: Path, orin: Path) -> None:
    assert (pi5 / "proc/device-tree/model").read_bytes() == PI5_MODEL.encode() + b"\x00"
    assert (pi5 / "sys/class/thermal/thermal_zone0/temp").read_text() == "47250\n"
    assert (pi5 / "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor").read_text() == "performance\n"
    first_line = (orin / "etc/nv_tegra_release").read_text().splitlines()[0]
    assert first_line.startswith("# R35 (release), REVISION: 4.1, GCID: ")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"device_model": PI5_MODEL}, "rpi5"),
        ({"device_model": "Raspberry Pi 4 Model B Rev 1.4"}, "rpi4"),
        ({"device_model": "Raspberry Pi Compute Module 4 Rev 1.0"}, "rpi4"),
        ({"device_model": ORIN_MODEL, "tegra": True}, "jetson"),
        ({"tegra": True}, "jetson"),
        ({"device_model": "NVIDIA Jetson Orin Nano Developer Kit", "tegra": True}, "jetson"),
        ({"device_model": NANO_MODEL, "tegra": True}, "jetson-nano"),
        ({"device_model": NANO_MODEL}, "jetson-nano"),
        ({"nvidia_gpus": 1}, "gpu-server"),
        ({"nvidia_gpus": 2}, "gpu-server"),
        ({"device_model": ORIN_MODEL, "tegra": True, "nvidia_gpus": 1}, "jetson"),
        ({}, "laptop"),
    ],
)
def test_detect_device(tmp_path: Path, kwargs: dict[str, object], expected: str) -> None:
    root = build_fake_system_tree(tmp_path / "tree", **kwargs)  # type: ignore[arg-type]
    assert detect_device(root) == expected


def test_detect_device_on_empty_root_is_laptop(tmp_path: Path) -> None:
    assert detect_device(tmp_path) == "laptop"


def test_pi5_governor_frequencies_and_temperatures(pi5: Path) -> None:
    env = capture_environment(root=pi5)
    cpu = env["cpu"]
    assert env["device"] == "rpi5"
    assert env["device_model"] == PI5_MODEL
    assert env["nv_tegra_release"] is None
    assert cpu["model"] == "Cortex-A76"
    assert (cpu["logical_cores"], cpu["physical_cores"], cpu["ids"]) == (4, 4, [0, 1, 2, 3])
    assert cpu["governor"] == ["performance"] * 4
    assert cpu["cur_freq_khz"] == [2_400_000] * 4
    assert cpu["min_freq_khz"] == [1_500_000] * 4
    assert cpu["max_freq_khz"] == [2_400_000] * 4
    assert cpu["unavailable"] == []
    assert env["thermal"] == [{"zone": "thermal_zone0", "type": "cpu-thermal", "temp_c": 47.25}]
    assert env["memory_total_bytes"] == 8_245_968 * 1024
    assert env["os"]["pretty_name"] == "Debian GNU/Linux 12 (bookworm)"
    assert env["os"]["kernel_release"] == "6.6.51+rpt-rpi-2712"
    assert env["unavailable"] == []


def test_orin_release_clusters_and_zones(orin: Path) -> None:
    env = capture_environment(root=orin)
    cpu = env["cpu"]
    assert env["device"] == "jetson"
    assert env["nv_tegra_release"].startswith("# R35 (release), REVISION: 4.1")
    assert "\n" not in env["nv_tegra_release"]
    assert cpu["model"] == "Cortex-A78AE"
    assert (cpu["logical_cores"], cpu["physical_cores"]) == (12, 12)
    assert cpu["governor"] == ["schedutil"] * 12
    assert cpu["max_freq_khz"] == [2_201_600] * 12
    assert [z["temp_c"] for z in env["thermal"]] == [41.5, 43.0, 40.25]
    assert [z["zone"] for z in env["thermal"]] == ["thermal_zone0", "thermal_zone1", "thermal_zone2"]
    assert all(isinstance(z["temp_c"], float) for z in env["thermal"])


def test_nano(nano: Path) -> None:
    env = capture_environment(root=nano)
    assert env["device"] == "jetson-nano"
    assert env["device_model"] == NANO_MODEL
    assert env["nv_tegra_release"].startswith("# R32 (release)")
    assert env["cpu"]["model"] == "Cortex-A57"  # preferred over cpuinfo's generic "ARMv8 Processor rev 1"
    assert env["cpu"]["governor"] == ["powersave"] * 4
    assert env["cpu"]["cur_freq_khz"] == env["cpu"]["min_freq_khz"] == [102_000] * 4


def test_laptop_without_cpufreq_reports_why(laptop: Path) -> None:
    env = capture_environment(root=laptop)
    cpu = env["cpu"]
    assert env["device"] == "laptop"
    assert env["device_model"] is None
    assert cpu["model"].startswith("11th Gen Intel(R) Core(TM) i7")
    assert (cpu["logical_cores"], cpu["physical_cores"]) == (4, 2)  # two threads per core
    for field in ("governor", "cur_freq_khz", "min_freq_khz", "max_freq_khz"):
        assert cpu[field] == [None] * 4
    assert cpu["unavailable"] == ["cpufreq: no /sys/devices/system/cpu/cpu0/cpufreq (virtual machine or driver absent)"]
    assert env["thermal"] == []
    assert any(reason.startswith("thermal: no /sys/class/thermal") for reason in env["unavailable"])
    assert cpu["unavailable"][0] in env["unavailable"]


def test_offline_cpus_are_not_reported_missing(orin: Path) -> None:
    cpu_dir = orin / "sys/devices/system/cpu"
    (cpu_dir / "online").write_text("0-7\n")
    for n in range(8, 12):  # an nvpmodel mode that unplugs the third cluster
        (cpu_dir / f"cpu{n}/cpufreq").unlink()
    cpu = capture_environment(root=orin)["cpu"]
    assert cpu["logical_cores"] == 8
    assert cpu["online"] == [True] * 8 + [False] * 4
    assert cpu["governor"] == ["schedutil"] * 8 + [None] * 4
    assert cpu["unavailable"] == []


def test_unreadable_and_garbled_files_never_raise(pi5: Path) -> None:
    policy = pi5 / "sys/devices/system/cpu/cpufreq/policy0"
    (policy / "scaling_cur_freq").unlink()
    (policy / "scaling_cur_freq").mkdir()  # reading raises IsADirectoryError, even as root
    (policy / "cpuinfo_max_freq").write_text("garbage\n")
    (pi5 / "sys/devices/virtual/thermal/thermal_zone0/temp").write_text("\n")
    (pi5 / "proc/meminfo").unlink()
    env = capture_environment(root=pi5)
    assert env["cpu"]["cur_freq_khz"] == [None] * 4
    assert env["cpu"]["max_freq_khz"] == [None] * 4
    assert env["cpu"]["min_freq_khz"] == [1_500_000] * 4
    assert env["thermal"][0]["temp_c"] is None
    assert env["memory_total_bytes"] is None
    text = "\n".join(env["unavailable"])
    assert "cpufreq scaling_cur_freq: cannot read" in text and "(cpu 0,1,2,3)" in text
    assert "holds 'garbage', not an integer" in text
    assert "thermal thermal_zone0 (cpu-thermal)" in text
    assert "memory: no /proc/meminfo" in text


def test_empty_root_gives_nones_and_reasons(tmp_path: Path) -> None:
    env = capture_environment(root=tmp_path)
    assert env["cpu"]["logical_cores"] == len(env["cpu"]["ids"]) > 0
    assert env["memory_total_bytes"] is None and env["thermal"] == []
    assert any("cpuinfo: no /proc/cpuinfo" in reason for reason in env["unavailable"])
    json.dumps(env, allow_nan=False)


def test_parse_cpu_list() -> None:
    assert parse_cpu_list("0-3,8-11") == {0, 1, 2, 3, 8, 9, 10, 11}
    assert parse_cpu_list("0") == {0}
    assert parse_cpu_list("") == set()


def test_model_sha256_matches_hashlib_and_is_cached(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    payload = os.urandom(3 * (1 << 20) + 17)  # spans several 1 MiB chunks
    model.write_bytes(payload)
    env = capture_environment(model_files=[model], root=tmp_path)
    expected = hashlib.sha256(payload).hexdigest()
    assert env["models"] == [{"path": str(model), "size_bytes": len(payload), "sha256": expected}]

    times = model.stat()
    model.write_bytes(bytes(len(payload)))  # same size, then restore mtime: the cache must answer
    os.utime(model, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert fingerprint_models([model])[0][0]["sha256"] == expected

    os.utime(model, ns=(times.st_atime_ns, times.st_mtime_ns + 1_000_000))  # touched: rehash
    assert fingerprint_models([model])[0][0]["sha256"] == hashlib.sha256(bytes(len(payload))).hexdigest()


def test_missing_model_is_recorded_not_raised(tmp_path: Path) -> None:
    env = capture_environment(model_files=[tmp_path / "absent.bin"], root=tmp_path)
    assert env["models"] == [{"path": str(tmp_path / "absent.bin"), "size_bytes": None, "sha256": None}]
    assert any(reason.startswith(f"model {tmp_path / 'absent.bin'}") for reason in env["unavailable"])


@pytest.mark.parametrize("fixture", ["pi5", "orin", "nano", "laptop"])
def test_capture_is_json_serialisable(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"weights")
    env = capture_environment(model_files=[model], root=request.getfixturevalue(fixture))
    assert json.loads(json.dumps(env, allow_nan=False)) == env


def test_packages_and_binaries_absent_are_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = package_versions(["pytest", "surely-not-an-installed-package"])
    assert versions["pytest"] == pytest.__version__
    assert versions["surely-not-an-installed-package"] is None
    assert set(package_versions()) == set(PACKAGES)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    assert binary_versions() == {"apertium": None, "lttoolbox": None, "tesseract": None}
    assert git_state(tmp_path) == {"commit": None, "dirty": None}


def _fake_binary(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_binary_versions_first_line_and_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_binary(tmp_path, "tesseract", 'echo "tesseract 5.3.0"; echo " leptonica-1.82.0"')
    _fake_binary(tmp_path, "apertium", "exec sleep 5")
    _fake_binary(tmp_path, "lt-proc", "exit 1")
    monkeypatch.setenv("PATH", str(tmp_path))
    versions = binary_versions(timeout_s=0.5)
    assert versions == {"apertium": None, "lttoolbox": None, "tesseract": "tesseract 5.3.0"}


def test_git_outside_a_repository(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {"commit": None, "dirty": None}


def test_capture_on_this_machine() -> None:
    env = capture_environment()
    assert env["device"] in {"jetson", "jetson-nano", "rpi4", "rpi5", "laptop"}
    assert env["cpu"]["logical_cores"] == os.cpu_count()
    assert len(env["cpu"]["governor"]) == len(env["cpu"]["ids"])
    assert isinstance(env["memory_total_bytes"], int) and env["memory_total_bytes"] > 0
    assert env["python"]["executable"] == sys.executable
    assert env["packages"]["numpy"] is not None
    git = env["git"]
    assert git["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", git["commit"])
    assert git["dirty"] in (None, True, False)
    assert env["captured_at_utc"].endswith("+00:00")
    json.dumps(env, allow_nan=False)
