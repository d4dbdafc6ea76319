"""End to end on the real backends: PP-OCRv4 reads a rendered sign, Apertium translates it, the run
directory holds what the schema promises. Also: a configuration error stops the run before anything is
written, a configuration that fails while running does not stop the others, and a run killed with
SIGKILL keeps its frames and reports itself as partial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.layout.blocks import group
from harness.store.reader import load_run
from harness.testing.experiments import NULL_OCR, SYNTHETIC, write_experiment
from harness.types import TextRegion
from tests.conftest import needs_apertium
from tests.test_robustness import start_long_run

REPO = Path(__file__).resolve().parent.parent


def run_arbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=600, check=False)


def apertium_cli(text: str) -> str:
    result = subprocess.run(["apertium", "-u", "eng-spa"], input=text, capture_output=True, text=True, check=True)
    return " ".join(result.stdout.split())


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    result = run_arbench("run", "experiments/smoke.toml", "--device", "laptop", "--out", str(out))
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.parent == out / "laptop"
    return run_dir


@needs_apertium
def test_run_directory_matches_the_schema(smoke_run: Path) -> None:
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert manifest["schema_version"] == 2
    assert manifest["status"] == "complete" and manifest["validity"]["complete"]
    assert manifest["device"]["name"] == "laptop"
    assert manifest["experiment"]["resolved"]["run"]["min_frames"] == 4
    environment = manifest["environment"]
    assert environment["cpu"]["logical_cores"] >= 1
    assert environment["python"]["version"]
    models = {Path(m["path"]).name: m for m in environment["models"]}
    assert len(models["ch_PP-OCRv4_det_infer.onnx"]["sha256"]) == 64
    assert "eng-spa.mode" in models
    [config] = manifest["configurations"]
    assert config["status"] == "complete" and config["measured_frames"] >= 4 and config["warmup_frames"] == 1
    # schema 2: each component's precision and resolved models are facts in the manifest, not guesses in reports
    [resolved] = manifest["experiment"]["resolved"]["configurations"].values()
    assert resolved["ocr"]["precision"] == "fp32" and resolved["mt"]["precision"] is None
    det = resolved["ocr"]["models"]["det"]
    assert det["entry"] == "ppocrv4-det-fp32" and det["files"][0]["sha256"] == models["ch_PP-OCRv4_det_infer.onnx"]["sha256"]
    assert resolved["source"]["live"] is False
    assert set(manifest["metrics"]["latency_ci_methods"]) == {"order_statistics", "frame_bootstrap"}
    summary = pd.read_csv(smoke_run / "summary.csv")
    columns = ["config_id", "stage", "n", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p50_ci_low_ms", "p50_ci_high_ms", "p50_ci_method"]
    columns.append("fps")
    assert list(summary.columns[: len(columns)]) == columns
    e2e = summary.set_index("stage").loc["e2e"]
    assert e2e["p50_ci_method"] == "order_statistics" if e2e["n"] >= 6 else pd.isna(e2e["p50_ci_method"])
    assert {"capture", "ocr", "ocr.det", "ocr.rec", "mt", "overlay", "e2e", "models", "harness"} <= set(summary["stage"])
    assert 0 < e2e["outside_models_pct"] < 100
    assert e2e["mt_degenerate_lines"] == 0  # Apertium's translations of the signs: none loops
    assert list((smoke_run / "overlays").rglob("*.png"))


@needs_apertium
def test_recognized_text_matches_truth_and_translation_is_apertiums(smoke_run: Path) -> None:
    run = load_run(smoke_run)
    measured = [r for r in run.frames.to_dict("records") if not r["warmup"]]
    assert all(r["ok"] for r in measured)
    exact = 0
    for record in measured:
        texts = [region["text"] for region in record["regions"]]
        regions = [TextRegion(tuple(map(tuple, r["quad"])), r["text"], r["confidence"]) for r in record["regions"]]
        blocks = group(regions)  # the regions are stored block by block, in reading order
        assert [i for block in blocks for i in block] == list(range(len(regions)))
        for block in blocks:  # each sign translated as one segment, shared back over its lines
            assert " ".join(record["targets"][i] for i in block).split() == apertium_cli(" ".join(texts[i] for i in block)).split()
        assert record["accuracy"]["ocr_cer"] <= 0.2, (texts, record["frame_name"])
        exact += record["accuracy"]["ocr_cer"] == 0.0
    assert exact >= len(measured) // 2


@needs_apertium
def test_report_prints_table_and_writes_markdown(smoke_run: Path) -> None:
    result = run_arbench("report", str(smoke_run))
    assert result.returncode == 0
    first = result.stdout.splitlines()[0]
    assert ": complete," in first and "PARTIAL" not in first
    assert "ocr.det" in result.stdout
    assert (smoke_run / "report.md").read_text().count("|") > 20


def test_a_configuration_error_is_one_line_before_any_run_directory(tmp_path: Path) -> None:
    missing = {"id": "missing", "kind": "images", "path": "/nonexistent/folder"}
    experiment = write_experiment(tmp_path / "exp.toml", sources=[missing, SYNTHETIC], mt=None)
    result = run_arbench("run", str(experiment), "--device", "laptop", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == "arbench: error: image folder not found: /nonexistent/folder; set `path` in the experiment"
    assert not (tmp_path / "out").exists()  # preflight: nothing written


def test_a_failing_configuration_is_recorded_and_the_others_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from harness.cli import main
    from harness.registry import PLUGINS
    from harness.testing.backends import FAULTY_OCR

    monkeypatch.setitem(PLUGINS["ocr"], "faulty", FAULTY_OCR)  # the isolated workers are forked: they see it too
    crashing = {"id": "crashing", "backend": "faulty", "message": "CUDA error: an illegal memory access"}
    run = {"warmup_frames": 1, "min_frames": 5, "min_duration_s": 0.0}
    experiment = write_experiment(tmp_path / "exp.toml", run=run, ocr=[crashing, NULL_OCR], mt=None)
    assert main(["run", str(experiment), "--device", "laptop", "--out", str(tmp_path / "out")]) == 0
    stored = load_run(Path(capsys.readouterr().out.strip().splitlines()[-1]))
    outcomes = {c["config_id"]: c for c in stored.manifest["configurations"]}
    assert outcomes["synth/crashing/off"]["status"] == "failed"
    assert "CUDA error: an illegal memory access" in outcomes["synth/crashing/off"]["reason"]
    assert outcomes["synth/null/off"]["status"] == "complete"
    assert stored.manifest["validity"]["failed_configurations"] == ["synth/crashing/off"]
    assert (stored.summary["status"] == "failed").sum() == 1


@pytest.mark.faults
def test_sigkill_halfway_leaves_valid_frames_and_a_partial_report(tmp_path: Path) -> None:
    process, run_dir = start_long_run(tmp_path, min_bytes=20_000)
    frames = run_dir / "frames.jsonl"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    time.sleep(0.5)  # the worker dies with its parent (PR_SET_PDEATHSIG)
    lines = frames.read_text().splitlines()
    complete = lines if frames.read_text().endswith("\n") else lines[:-1]
    assert len(complete) > 10
    for line in complete:
        json.loads(line)
    size = frames.stat().st_size
    time.sleep(0.5)
    assert frames.stat().st_size == size, "a worker kept writing after its parent was killed"
    [killed] = json.loads((frames.parent / "manifest.json").read_text())["configurations"]
    assert killed["status"] == "running"  # what was running when the run was killed, not "pending"
    report = run_arbench("report", str(frames.parent))
    assert report.returncode == 0, report.stderr
    assert "PARTIAL" in report.stdout.splitlines()[0]
    assert "synth/null/off" in report.stdout
