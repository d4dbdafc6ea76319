"""`arbench run --resume`: a run killed anywhere continues to hold exactly an uninterrupted run's frames, each once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store.reader import load_run
from harness.testing.experiments import NULL_MT, NULL_OCR, write_experiment

pytestmark = pytest.mark.faults

REPO = Path(__file__).resolve().parent.parent
SOURCES = [{"id": f"synth{seed}", "kind": "synthetic", "seed": seed, "n": 20, "loop": False} for seed in (1, 2, 3)]
SLOW_NULL = {**NULL_OCR, "delay_ms": 60}  # 20 frames take over a second, so kills land while frames are written too
RUN = {"warmup_frames": 2, "all_frames": True, "max_frames": 1000, "max_duration_s": 60.0, "rounds": 2, "save_overlays": 0}


def _experiment(tmp_path: Path) -> Path:
    return write_experiment(tmp_path / "resume.toml", sources=SOURCES, ocr=[SLOW_NULL], mt=[NULL_MT], run=RUN)


def _arbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=300, check=False)


def _measured(run_dir: Path) -> list[tuple[str, int, int]]:
    """(config, round, seq) of the measured frames statistics use, in file order."""
    frames = load_run(run_dir).frames
    measured = frames[~frames["warmup"]]
    rounds = measured["round"] if "round" in measured else [0] * len(measured)
    return [(c, int(r), int(s)) for c, r, s in zip(measured["config_id"], rounds, measured["seq"], strict=True)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, int]], float]:
    tmp = tmp_path_factory.mktemp("whole")
    start = time.monotonic()
    done = _arbench("run", str(_experiment(tmp)), "--device", "laptop", "--out", str(tmp / "results"))
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    return run_dir, _measured(run_dir), seconds


def _killed_run(tmp: Path, experiment: Path, after_s: float) -> Path | None:
    """Start a run, SIGKILL it after ``after_s``; its folder, or None when it was killed before making one."""
    command = [sys.executable, "-m", "harness.cli", "run", str(experiment), "--device", "laptop", "--out", str(tmp / "results")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    time.sleep(0.3)  # the configuration's worker dies with its parent (PR_SET_PDEATHSIG)
    folders = sorted((tmp / "results" / "laptop").glob("*")) if (tmp / "results" / "laptop").is_dir() else []
    return folders[-1] if folders and (folders[-1] / "manifest.json").is_file() else None


@pytest.mark.slow
def test_kill_minus_9_at_ten_seeded_points_then_resume_gives_the_uninterrupted_frames(uninterrupted, tmp_path: Path) -> None:
    whole_dir, whole, seconds = uninterrupted
    assert len(whole) == 3 * 2 * 20 and len(set(whole)) == len(whole)
    rng = random.Random(17)
    resumed = 0
    for point in range(10):
        tmp = tmp_path / f"kill{point}"
        tmp.mkdir()
        run_dir = _killed_run(tmp, _experiment(tmp), rng.uniform(1.0, max(1.5, seconds - 0.5)))
        if run_dir is None:
            continue  # killed before the run folder existed: nothing was measured, nothing to resume
        status = json.loads((run_dir / "manifest.json").read_text())["status"]
        done = _arbench("run", "--resume", str(run_dir))
        if status == "complete":
            assert done.returncode == 2 and "nothing to resume" in done.stderr
            continue
        assert done.returncode == 0, done.stderr
        resumed += 1
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["status"] == "complete" and len(manifest["invocations"]) == 2
        assert manifest["invocations"][0]["status"] == "running"  # killed: it never closed
        assert manifest["invocations"][1]["status"] == "complete"
        mine = _measured(run_dir)
        assert sorted(mine) == sorted(whole), f"kill point {point}"  # each (config, round, frame) exactly once
        summary = load_run(run_dir).summary.set_index(["config_id", "stage"])
        reference = load_run(whole_dir).summary.set_index(["config_id", "stage"])
        for config in {c for c, _, _ in whole}:
            assert summary.loc[(config, "e2e"), "n"] == reference.loc[(config, "e2e"), "n"] == 40
    assert resumed >= 5, "too few kill points landed inside the run to test resuming"


def test_resume_refuses_a_changed_experiment_unless_forced(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path)
    run_dir = _killed_run(tmp_path, experiment, 2.5)
    assert run_dir is not None
    experiment.write_text(experiment.read_text() + "\n# edited\n")
    refused = _arbench("run", "--resume", str(run_dir))
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "changed since it started: experiment file" in line and "--force" in line
    forced = _arbench("run", "--resume", str(run_dir), "--force")
    assert forced.returncode == 0, forced.stderr
    invocations = json.loads((run_dir / "manifest.json").read_text())["invocations"]
    assert any("experiment file" in why for why in invocations[-1]["forced"])


def test_resume_refuses_what_is_not_a_resumable_run(tmp_path: Path, uninterrupted) -> None:
    whole_dir, _, _ = uninterrupted
    complete = _arbench("run", "--resume", str(whole_dir))
    assert complete.returncode == 2 and "nothing to resume" in complete.stderr
    missing = _arbench("run", "--resume", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
