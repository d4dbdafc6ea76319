"""Runs a whole experiment into a new run directory: results/<device>/<run-id>/.

The manifest is written before the first frame (status "running") and rewritten atomically after each
configuration, so a run that is killed still says what it was, what finished and that it is partial.
Each configuration runs in its own forked process when ``run.isolate`` is set, so state (threads,
caches, memory) cannot leak from one configuration into the next, and a crash in native code fails
only that configuration.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import Configuration, Experiment, project_root
from harness.context import BackendContext
from harness.devices import DeviceProfile
from harness.metrics.text import chrf_signature
from harness.registry import plugin
from harness.runner import Outcome, describe, run_configuration
from harness.store.reader import read_frames
from harness.store.schema import FRAMES, MANIFEST, SCHEMA_VERSION, SUMMARY
from harness.store.summary import summarize
from harness.store.writer import new_run_id, write_json_atomic
from harness.system.environment import capture_environment
from harness.system.fingerprint import fingerprint_models

__all__ = ["preflight", "run_experiment"]


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _manifest(experiment: Experiment, device: DeviceProfile, run_id: str, outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "status": "running",
        "started_at_utc": _utc(),
        "finished_at_utc": None,
        "arbench_version": __version__,
        "command": sys.argv,
        "experiment": {
            "name": experiment.name,
            "description": experiment.description,
            "path": str(experiment.path),
            "config": experiment.raw,
            "resolved": {
                "run": dataclasses.asdict(experiment.run),
                "stages": dataclasses.asdict(experiment.stages),
                "overlay": dataclasses.asdict(experiment.overlay),
                "configurations": {c.config_id: describe(c) for c in experiment.configurations()},
            },
        },
        "device": dataclasses.asdict(device),
        "environment": capture_environment(repo_dir=project_root()),
        "metrics": {"mt_chrf": chrf_signature(), "latency_ci": "bootstrap percentile, 95%, median"},
        "configurations": [dataclasses.asdict(o) for o in outcomes],
        "validity": {"complete": False},
    }


def preflight(experiment: Experiment, device: DeviceProfile) -> None:
    """Check what can be checked before any run directory exists: model files and their sha256, cameras.

    A missing or corrupt model, or an absent or busy camera, is then a one-line error (exit 2), not a
    failed configuration after the run started.
    """
    for component in (*experiment.ocr, *experiment.mt):
        plugin(component.kind, component.backend, component.id).preflight(component.options)
    context = BackendContext(threads=device.threads, providers=device.providers, camera=device.camera)
    for component in experiment.sources:
        if component.backend == "camera":
            camera = component.create(context)
            camera.open()
            camera.close()


def run_experiment(experiment: Experiment, device: DeviceProfile, out_root: Path) -> Path:
    """Run every configuration and return the run directory (call ``preflight`` first)."""
    run_id = new_run_id()
    run_dir = out_root / device.name / run_id
    run_dir.mkdir(parents=True)
    (run_dir / FRAMES).touch()
    configs = experiment.configurations()
    outcomes = [Outcome(c.config_id) for c in configs]
    manifest = _manifest(experiment, device, run_id, outcomes)
    write_json_atomic(run_dir / MANIFEST, manifest)
    status = "complete"
    try:
        for index, config in enumerate(configs):
            outcomes[index] = _run_one(config, experiment, device, run_dir)
            manifest["configurations"] = [dataclasses.asdict(o) for o in outcomes]
            write_json_atomic(run_dir / MANIFEST, manifest)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        _finish(run_dir, manifest, outcomes, status)
    return run_dir


def _finish(run_dir: Path, manifest: dict[str, Any], outcomes: list[Outcome], status: str) -> None:
    records, bad = read_frames(run_dir / FRAMES)
    summary = summarize(records, [dataclasses.asdict(o) for o in outcomes])
    summary.to_csv(run_dir / SUMMARY, index=False, float_format="%.6g")
    model_files = sorted({f for o in outcomes for f in o.model_files})
    models, reasons = fingerprint_models(Path(f) for f in model_files)
    manifest["environment"]["models"] = models
    manifest["environment"]["unavailable"] += reasons
    manifest["status"] = status
    manifest["finished_at_utc"] = _utc()
    manifest["validity"] = _validity(outcomes, bad, status)
    write_json_atomic(run_dir / MANIFEST, manifest)


def _validity(outcomes: list[Outcome], bad_lines: int, status: str) -> dict[str, Any]:
    done = [o for o in outcomes if o.status == "complete"]
    return {
        "complete": status == "complete" and all(o.status in ("complete", "failed") for o in outcomes),
        "failed_configurations": [o.config_id for o in outcomes if o.status == "failed"],
        "all_min_frames_met": all(o.validity.get("min_frames_met") for o in done) if done else False,
        "all_min_duration_met": all(o.validity.get("min_duration_met") for o in done) if done else False,
        "warmup_excluded": True,
        "bad_frame_lines": bad_lines,
        "energy": "unavailable: no energy sensors are read by this version",
    }


def _run_one(config: Configuration, experiment: Experiment, device: DeviceProfile, run_dir: Path) -> Outcome:
    if not experiment.run.isolate:
        return run_configuration(config, experiment, device, run_dir)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_worker, args=(sender, config, experiment, device, run_dir), daemon=True)
    worker.start()
    sender.close()
    try:
        outcome: Outcome = receiver.recv()
    except EOFError:
        worker.join()
        return Outcome(config.config_id, status="failed", reason=f"worker process died (exit code {worker.exitcode})")
    worker.join()
    return outcome


def _worker(sender: Connection, config: Configuration, experiment: Experiment, device: DeviceProfile, run_dir: Path) -> None:
    _die_with_parent()
    try:
        outcome = run_configuration(config, experiment, device, run_dir)
    except Exception as exc:  # noqa: BLE001 - a bug: fail this configuration with its reason, show the traceback, go on
        traceback.print_exc()
        outcome = Outcome(config.config_id, status="failed", reason=f"internal error: {type(exc).__name__}: {exc}")
    sender.send(outcome)
    sender.close()


def _die_with_parent() -> None:
    """Ask Linux to kill this worker if the parent dies (a killed run leaves no orphan writing frames)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
