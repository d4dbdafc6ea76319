"""A run survives what real runs meet: a hung backend, SIGTERM, Ctrl-C, a writer killed mid-line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.devices import load_device
from harness.registry import PLUGINS
from harness.run.experiment import load_experiment
from harness.run.orchestrate import run_experiment
from harness.store.reader import load_run, read_frames
from harness.store.writer import FrameWriter
from harness.testing.backends import FAULTY_MT
from harness.testing.experiments import NULL_MT, write_experiment

pytestmark = pytest.mark.faults

REPO = Path(__file__).resolve().parent.parent

# A null-backend run that would last 10 minutes (interrupted by the tests).
LONG_RUN = {"warmup_frames": 2, "min_frames": 1_000_000, "max_frames": 1_000_000, "min_duration_s": 600.0, "max_duration_s": 600.0}


def test_a_hung_backend_is_killed_and_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PLUGINS["mt"], "faulty", FAULTY_MT)
    run = {"warmup_frames": 1, "min_frames": 3, "min_duration_s": 0.0, "max_duration_s": 1.0}
    path = write_experiment(
        tmp_path / "hang.toml",
        run=run | {"setup_timeout_s": 5.0, "frame_timeout_s": 2.0},
        ocr=None,
        mt=[{"id": "hang", "backend": "faulty", "good": 2, "fault": "hang"}, NULL_MT | {"id": "fine"}],
    )
    started = time.monotonic()
    run_dir = run_experiment(load_experiment(path), load_device("laptop"), tmp_path / "out")
    assert time.monotonic() - started < 30
    outcomes = {o["config_id"]: o for o in load_run(run_dir).manifest["configurations"]}
    assert outcomes["synth/off/hang"]["status"] == "failed"
    assert outcomes["synth/off/hang"]["reason"].startswith("timed out: a frame took longer than frame_timeout_s = 2 s after 2 frame(s)")
    assert outcomes["synth/off/fine"]["status"] == "complete"
    assert len([r for r in load_run(run_dir).frames.to_dict("records") if r["config_id"] == "synth/off/hang"]) == 2  # kept
    assert (outcomes["synth/off/hang"]["warmup_frames"], outcomes["synth/off/hang"]["measured_frames"]) == (1, 1)  # and counted


def test_frame_timeout_is_per_frame_not_per_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PLUGINS["mt"], "faulty", FAULTY_MT)
    run = {"warmup_frames": 0, "min_frames": 3, "min_duration_s": 0.0, "max_duration_s": 60.0, "frame_timeout_s": 0.3}
    slow = {"id": "slow", "backend": "faulty", "good": 1, "fault": "hang", "hang_s": 1.5}  # every frame after the first takes 1.5 s
    path = write_experiment(tmp_path / "slow.toml", run=run, ocr=None, mt=[slow])
    started = time.monotonic()
    run_dir = run_experiment(load_experiment(path), load_device("laptop"), tmp_path / "out")
    assert time.monotonic() - started < 20  # not setup + max duration + frame timeout
    [outcome] = load_run(run_dir).manifest["configurations"]
    assert outcome["status"] == "failed"
    assert outcome["reason"].startswith("timed out: a frame took longer than frame_timeout_s = 0.3 s after 1 frame(s)")


def start_long_run(tmp_path: Path, min_bytes: int = 5_000) -> tuple[subprocess.Popen[str], Path]:
    """Start a null-backend run that would last 10 minutes; return once it has written ``min_bytes`` of frames."""
    experiment = write_experiment(tmp_path / "long.toml", run=LONG_RUN, mt=None)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(experiment), "--device", "laptop", "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - as from a terminal, whatever an earlier test left ignored
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(out.glob("laptop/*/frames.jsonl"))
        if found and found[0].stat().st_size > min_bytes:
            return process, found[0].parent
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the run wrote no frames within 60 s")


@pytest.mark.parametrize("how", ["SIGTERM to the process", "Ctrl-C to the process group"])
def test_sigterm_and_ctrl_c_close_the_run_properly(tmp_path: Path, how: str) -> None:
    process, run_dir = start_long_run(tmp_path)
    if how.startswith("SIGTERM"):
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert f"the frames measured so far are kept in {run_dir}" in stderr
    assert "Traceback" not in stderr
    run = load_run(run_dir)
    assert run.manifest["status"] == "interrupted"
    [outcome] = run.manifest["configurations"]
    assert outcome["status"] == "interrupted" and outcome["measured_frames"] > 0
    assert run.summary is not None and (run.summary["stage"] == "e2e").any()


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    fields = {"warmup": False, "ok": True, "spans": []}
    (tmp_path / "frames.jsonl").write_text(json.dumps({"config_id": "a", "seq": 0, **fields}) + '\n{"config_id": "a", "se')
    writer = FrameWriter(tmp_path)
    writer.write({"config_id": "b", "seq": 0, **fields})
    writer.close()
    records, bad = read_frames(tmp_path / "frames.jsonl")
    assert records == [{"config_id": "a", "seq": 0, **fields}, {"config_id": "b", "seq": 0, **fields}]
    assert bad == 1


def test_zero_measured_frames_fail_the_configuration(tmp_path: Path) -> None:
    path = tmp_path / "short.toml"
    path.write_text(
        "[run]\nwarmup_frames = 3\nisolate = false\n[stages]\noverlay = false\n"
        '[[sources]]\nid = "s"\nkind = "synthetic"\nn = 2\nloop = false\n'
    )
    run_dir = run_experiment(load_experiment(path), load_device("laptop"), tmp_path / "out")
    [outcome] = json.loads((run_dir / "manifest.json").read_text())["configurations"]
    assert outcome["status"] == "failed" and outcome["reason"].startswith("no frame was measured")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_keeps_whole_records_and_still_closes_the_run(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=False, capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        run = LONG_RUN | {"max_duration_s": 60.0, "min_duration_s": 60.0, "save_overlays": 0}
        experiment = write_experiment(tmp_path / "full.toml", run=run, mt=None)
        started = time.monotonic()
        run_dir = run_experiment(load_experiment(experiment), load_device("laptop"), disk / "out")
        assert time.monotonic() - started < 50  # stopped by the full disk, not by the clock
        frames = (run_dir / "frames.jsonl").read_bytes()
        records, bad = read_frames(run_dir / "frames.jsonl")
        assert frames.endswith(b"\n") and bad == 0 and len(records) > 100  # every record whole: no torn last line
        stored = load_run(run_dir)
        [outcome] = stored.manifest["configurations"]
        assert stored.manifest["status"] == "complete" and outcome["status"] == "failed"
        assert outcome["reason"].startswith("cannot write frames.jsonl (No space left on device)")
        assert stored.summary is not None and "e2e" in set(stored.summary["stage"])  # written, thanks to the reserve
        assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []  # no temporary, no reserve
    finally:
        subprocess.run(["umount", str(disk)], check=False)
