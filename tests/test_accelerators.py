"""No CPU run under a GPU label: what each backend runs on is recorded, a fallback is said, and refused on request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.accelerators import choose_providers, fallbacks
from harness.system.environment import detect_device
from tests.conftest import REPO

JETSON = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
EXPERIMENT = """
[experiment]
name = "accel"
[run]
warmup_frames = 1
min_frames = 2
max_frames = 2
min_duration_s = 0.0
max_duration_s = 30.0
save_overlays = 0
[stages]
mt = false
overlay = false
[[sources]]
id = "synth"
kind = "synthetic"
seed = 3
n = 3
difficulty = "easy"
[[ocr]]
id = "ppocr"
backend = "rapidocr"
"""

needs_laptop = pytest.mark.skipif(detect_device() != "laptop", reason="these runs name a profile this machine is not: a laptop")


def test_providers_follow_the_profile_order_with_the_cpu_last() -> None:
    assert choose_providers(JETSON, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers(JETSON, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(("CPUExecutionProvider",), ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_a_part_below_the_first_provider_is_a_fallback() -> None:
    used = {"ocr.det": "CUDAExecutionProvider", "ocr.rec": "CPUExecutionProvider", "mt.model": "cuda"}
    lines = fallbacks(used, JETSON)
    assert lines == [
        "ocr.det runs on CUDAExecutionProvider; the profile prefers TensorrtExecutionProvider",
        "ocr.rec runs on CPUExecutionProvider; the profile prefers TensorrtExecutionProvider",
    ]  # CTranslate2 on cuda is on the GPU the profile is for
    assert fallbacks({"mt.model": "cpu"}, JETSON) == ["mt.model runs on cpu; the profile prefers TensorrtExecutionProvider (gpu)"]
    assert fallbacks({"ocr.det": "cuda", "ocr.cls": "cpu"}, ("CPUExecutionProvider",)) == []  # a GPU is never below the CPU
    assert fallbacks({"ocr.det": "CPUExecutionProvider"}, ("CPUExecutionProvider",)) == []


def test_rapidocr_reports_the_providers_onnx_runtime_assigned() -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    import onnxruntime

    from harness.context import BackendContext
    from harness.ocr.rapidocr import RapidOcrOptions
    from harness.testing.backends import open_backend

    ocr = open_backend("ocr", "rapidocr", RapidOcrOptions(), BackendContext(threads=1, providers=JETSON))
    try:
        used = ocr.accelerators()
    finally:
        ocr.close()
    expected = "CUDAExecutionProvider" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "CPUExecutionProvider"
    assert set(used) == {"det", "cls", "rec"} and set(used.values()) == {expected}


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    experiment = tmp_path / "accel.toml"
    experiment.write_text(EXPERIMENT)
    command = [sys.executable, "-m", "harness.cli", "run", str(experiment), "--out", str(tmp_path / "results"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600, check=False)


@needs_laptop
def test_a_profile_for_another_device_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    done = _run(tmp_path, "--device", "jetson")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("arbench: error: --device jetson: this machine is detected as 'laptop'")
    assert not (tmp_path / "results").exists()


@needs_laptop
def test_a_mismatched_profile_is_stored_under_the_detected_device_and_says_where_it_fell_back(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    done = _run(tmp_path, "--device", "jetson", "--allow-device-mismatch")
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "results" / "laptop"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["device"]["name"] == "jetson" and manifest["stored_under"] == "laptop"
    [outcome] = manifest["configurations"]
    cpu = "CPUExecutionProvider"
    assert outcome["accelerators"] == {"ocr.det": cpu, "ocr.cls": cpu, "ocr.rec": cpu}
    assert len(outcome["accelerator_fallbacks"]) == 3
    assert "ocr.det runs on CPUExecutionProvider; the profile prefers TensorrtExecutionProvider" in done.stderr
    summary = pd.read_csv(run_dir / "summary.csv")
    e2e = summary[summary["stage"] == "e2e"].iloc[0]
    assert e2e["accelerators"] == "ocr.det=CPUExecutionProvider ocr.cls=CPUExecutionProvider ocr.rec=CPUExecutionProvider"


@needs_laptop
def test_require_accel_stops_the_run_with_exit_2_and_keeps_it(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    done = _run(tmp_path, "--device", "jetson", "--allow-device-mismatch", "--require-accel")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert "ppocr" in last and "accelerator required: ocr.det runs on CPUExecutionProvider" in last
    [run_dir] = (tmp_path / "results" / "laptop").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "refused" and manifest["configurations"][0]["status"] == "failed"
    on_laptop = _run(tmp_path, "--device", "laptop", "--require-accel")  # the CPU is what the laptop profile is for
    assert on_laptop.returncode == 0, on_laptop.stderr


def test_devices_says_which_accelerators_each_runtime_can_use_here() -> None:
    command = [sys.executable, "-m", "harness.cli", "devices"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("accelerators here:\n", 1)[1].splitlines()
    by_runtime = {line.split()[0]: line.strip() for line in lines}
    import onnxruntime

    assert ", ".join(onnxruntime.get_available_providers()) in by_runtime["ONNX"]
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        assert "CPU-only build" in by_runtime["ONNX"]  # and says what to install
    assert by_runtime["CTranslate2"].startswith("CTranslate2 ") and by_runtime["NVML:"]
