"""The device check runs anywhere: on a CPU-only machine it measures the CPU rows and says the GPU rows are
unmeasured; its GPU energy arithmetic (counter per block, idle subtracted, integrated power as the check)
is right against an NVML with the real API's units."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from harness import devicecheck
from harness.devicecheck import Gpu, Measured, run_check
from harness.energy.nvml import AGREEMENT_TOLERANCE
from tests.nvml_fixtures import fake_pynvml

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (devicecheck.GRAPHS / "ppocrv4_det.json").is_file():
        pytest.skip("build/models/ppocrv4-torch not built (arbench models build)")
    return devicecheck.build_inputs(tmp_path_factory.mktemp("dc") / "inputs.npz")


def test_a_cpu_only_machine_gets_cpu_rows_and_the_gpu_rows_named_unmeasured(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # no NVML, as on most CPU machines
    monkeypatch.setattr(devicecheck, "PHRASES", 4)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    folder = run_check(tmp_path, seconds=0.0, iterations=1, warmup=1, inputs_path=inputs)
    result = json.loads((folder / "device_check.json").read_text())
    rows = {(r["stage"], r["device"], r["precision"]): r for r in result["rows"]}
    stages = ("ocr.det", "ocr.cls", "ocr.rec", "mt.translate")
    assert set(rows) == {(stage, "cpu", precision) for stage in stages for precision in ("fp32", "bf16")}
    assert all(r["calls"] >= 1 and r["mean_ms"] > 0 for r in rows.values())
    assert all(r["energy_j_per_call"] is None for r in rows.values())  # no sensor: unavailable, not zero
    assert all(rows[(stage, "cpu", "fp32")]["agreement"] == 1.0 for stage in stages)  # the reference itself
    assert rows[("ocr.det", "cpu", "bf16")]["agreement"] > 0.95
    assert rows[("mt.translate", "cpu", "fp32")]["tokens_per_s"] > 0
    assert any("no CUDA GPU" in line for line in result["skipped"])
    assert result["environment"]["role"] == "CPU only" and "NVML unavailable" in result["environment"]["nvml"]
    assert "| ocr.det | cpu | fp32 |" in (folder / "table.md").read_text()


def test_missing_inputs_say_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(devicecheck.DataMissing, match=r"harness\.devicecheck inputs"):
        run_check(tmp_path, 0.0, 1, 0, inputs_path=tmp_path / "absent.npz")


def test_gpu_energy_per_call_net_of_idle_with_its_integrated_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GPU at 100 W idle and 400 W while a call runs: the counter (mJ) and sampled power (mW) as NVML gives them."""
    started, busy = time.monotonic(), {"since": None, "joules": 0.0}

    def watts() -> float:
        return 400.0 if busy["since"] is not None else 100.0

    def counter_mj() -> int:
        now = time.monotonic()
        extra = 300.0 * (now - busy["since"]) if busy["since"] is not None else 0.0
        return int(1000 * (100.0 * (now - started) + busy["joules"] + extra))

    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml({0: counter_mj}, {0: lambda: 1000 * watts()}))
    gpu = Gpu()
    try:
        gpu.measure_idle(0.3)
        assert gpu.idle_w == pytest.approx(100.0, rel=0.05)

        def call() -> float:
            busy["since"] = time.monotonic()
            time.sleep(0.1)
            busy["joules"] += 300.0 * (time.monotonic() - busy["since"])
            busy["since"] = None
            return 100.0

        row = Measured("ocr.det", "cuda", "fp16")
        devicecheck._block(call, seconds=1.0, iterations=1, gpu=gpu, row=row)
    finally:
        gpu.close()
    assert gpu.state["power_limit_w"] == 700.0
    assert row.calls >= 9
    assert row.energy_j_per_call == pytest.approx(40.0, rel=0.1)  # 400 W for 0.1 s
    assert row.net_energy_j_per_call == pytest.approx(30.0, rel=0.15)  # less 100 W idle
    assert abs(row.counter_vs_integrated - 1) < AGREEMENT_TOLERANCE
