"""End to end: runs with a fake Jetson (INA3221 hwmon, nvpmodel) injected through [energy] root."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest

from harness.devices import load_device
from harness.run.experiment import load_experiment
from harness.run.orchestrate import run_experiment
from harness.testing import build_fake_jetson_hwmon_tree, build_fake_jetson_tools, build_fake_system_tree
from harness.testing.experiments import write_experiment


@pytest.fixture
def jetson_root(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "fake"
    build_fake_system_tree(root, device_model="NVIDIA Jetson Orin NX Engineering Reference Developer Kit", tegra=True)
    rails = build_fake_jetson_hwmon_tree(root, values={"VDD_IN": (5000, 1200), "VDD_CPU_GPU_CV": (5000, 300), "VDD_SOC": (5000, 400)})
    build_fake_jetson_tools(root)
    return root, rails


def run(
    tmp_path: Path, root: Path, isolate: bool = False, duration: float = 1.5
) -> tuple[dict, list[dict], pd.DataFrame]:
    settings = {"warmup_frames": 2, "min_frames": 10, "min_duration_s": duration, "max_frames": 100_000, "max_duration_s": 10.0}
    energy = {"root": str(root), "idle_s": 0.3, "sample_hz": 50.0, "telemetry_hz": 5.0}
    path = write_experiment(tmp_path / "exp.toml", run=settings | {"isolate": isolate, "save_overlays": 0}, energy=energy)
    experiment = load_experiment(path)
    run_dir = run_experiment(experiment, load_device("jetson"), tmp_path / "results")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    records = [json.loads(line) for line in (run_dir / "frames.jsonl").read_text().splitlines()]
    return manifest, records, pd.read_csv(run_dir / "summary.csv")


@pytest.mark.parametrize("isolate", [False, True])
def test_energy_per_stage_in_records_summary_and_manifest(tmp_path: Path, jetson_root, isolate: bool) -> None:
    root, _ = jetson_root
    manifest, records, summary = run(tmp_path, root, isolate)
    assert manifest["status"] == "complete" and manifest["validity"]["energy"] == "available"
    assert manifest["energy"]["sensors"] == ["ina3221"] and manifest["energy"]["total_from"] == ["ina3221"]
    assert "Orin NX" in (manifest["environment"]["device_model"] or "")  # the environment is read under [energy] root too
    assert manifest["energy"]["channels"]["ina3221"] == ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]
    [config] = manifest["configurations"]
    assert config["energy"]["idle_baseline_w"] == pytest.approx(6.0) and config["energy"]["sensors"][0]["sample_hz"] == 50.0
    assert manifest["system"]["nvpmodel"] == {"mode": "MAXN", "id": 0} and manifest["system"]["governors"] == ["schedutil"]
    assert config["telemetry"]["samples"] > 3 and manifest["validity"]["throttled"] is False
    measured = [r for r in records if not r["warmup"]]
    assert all("energy" in r for r in records)
    # A loaded machine can delay the 50 Hz sampler past three periods: such a frame is covered less than
    # fully (or not at all: gross_j null), never given invented joules. The rail is a constant 6 W.
    coverages = []
    for record in measured:
        e2e = record["energy"]["e2e"]
        coverages.append(e2e["coverage"] if e2e["gross_j"] is not None else 0.0)
        if e2e["gross_j"] is None:
            continue
        spans = [s for s in record["spans"] if "." not in s["name"]]
        seconds = (max(s["end_ns"] for s in spans) - spans[0]["start_ns"]) / 1e9
        assert e2e["gross_j"] == pytest.approx(6.0 * seconds, rel=1e-3, abs=1e-9)  # VDD_IN only, never + its parts
        assert e2e["net_j"] == pytest.approx(0.0, abs=1e-6) and 0.0 <= e2e["coverage"] <= 1.0
    assert sum(c == 1.0 for c in coverages) > len(coverages) / 2
    row = summary[summary["stage"] == "e2e"].iloc[0]
    assert row["energy_gross_j"] == pytest.approx(6.0 * row["mean_ms"] / 1000, rel=0.01)
    assert row["energy_coverage"] == pytest.approx(sum(coverages) / len(coverages), rel=1e-4)
    assert not summary[summary["stage"] == "ocr"]["energy_gross_j"].isna().any()


def test_a_sensor_that_vanishes_mid_run_marks_energy_partial_and_the_run_goes_on(tmp_path: Path, jetson_root) -> None:
    root, rails = jetson_root
    timer = threading.Timer(1.2, rails["VDD_IN"][1].unlink)  # 0.3 s idle baseline, then ~0.9 s of frames
    timer.start()
    try:
        manifest, records, summary = run(tmp_path, root, duration=2.0)
    finally:
        timer.cancel()
    assert manifest["status"] == "complete" and manifest["configurations"][0]["status"] == "complete"
    assert manifest["validity"]["energy"] == "partial" and "curr1_input" in manifest["validity"]["energy_reason"]
    measured = [r for r in records if not r["warmup"]]
    gross = [r["energy"]["e2e"]["gross_j"] for r in measured]
    assert gross[0] is not None and gross[-1] is None
    row = summary[summary["stage"] == "e2e"].iloc[0]
    assert 0.0 < row["energy_coverage"] < 1.0 and row["energy_gross_j"] > 0


def test_without_sensors_energy_is_unavailable_and_the_columns_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    manifest, records, summary = run(tmp_path, empty, duration=0.2)
    assert manifest["validity"]["energy"] == "unavailable" and "no energy sensor found" in manifest["validity"]["energy_reason"]
    assert "rapl: no /sys/class/powercap" in manifest["energy"]["reason"]
    assert not any("energy" in r for r in records)
    assert summary["energy_gross_j"].isna().all() and summary["energy_net_j"].isna().all()
