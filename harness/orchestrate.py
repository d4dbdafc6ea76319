"""Runs a whole experiment into a new run directory: results/<device>/<run-id>/.

The manifest is written before the first frame (status "running") and rewritten atomically after each
configuration, so a run that is killed with SIGKILL still says what it was, what finished and that it
is partial. Ctrl-C and SIGTERM close the run properly (status "interrupted", summary written). Each
configuration runs in its own process when ``run.isolate`` is set (harness.isolation).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import Experiment, project_root
from harness.context import BackendContext
from harness.devices import DeviceProfile
from harness.errors import ConfigError, RunInterrupted, UserError
from harness.isolation import run_guarded, run_isolated
from harness.metrics.text import chrf_signature
from harness.registry import plugin
from harness.runner import Outcome, describe
from harness.store.reader import read_frames
from harness.store.schema import FRAMES, MANIFEST, SCHEMA_VERSION, SUMMARY
from harness.store.summary import summarize
from harness.store.writer import new_run_id, write_json_atomic
from harness.system.cpu import capture_cpu
from harness.system.environment import capture_environment
from harness.system.fingerprint import fingerprint_models
from harness.system.thermal import capture_thermal

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
        "metrics": {
            "mt_chrf": chrf_signature(),
            "latency_ci": "95% distribution-free CI of the median from order statistics (binomial); NaN below 6 values",
        },
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
    for component in experiment.sources:
        text_only = getattr(plugin(component.kind, component.backend, component.id).factory_class(), "modality", "image") == "text"
        if text_only and (experiment.stages.ocr or experiment.stages.overlay):
            raise ConfigError(f"source {component.id!r} gives text, not images: set [stages] ocr = false and overlay = false (MT only)")
    context = BackendContext.from_device(device)
    for component in experiment.sources:
        if component.backend == "camera":
            camera = component.create(context)
            camera.open()
            camera.close()


def run_experiment(experiment: Experiment, device: DeviceProfile, out_root: Path) -> Path:
    """Run every configuration and return the run directory (call ``preflight`` first)."""
    run_id = new_run_id()
    run_dir = out_root / device.name / run_id
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise UserError(f"cannot create the run directory {run_dir}: {exc.strerror}; choose another --out") from None
    (run_dir / FRAMES).touch()
    configs = experiment.configurations()
    outcomes = [Outcome(c.config_id) for c in configs]
    manifest = _manifest(experiment, device, run_id, outcomes)
    write_json_atomic(run_dir / MANIFEST, manifest)
    run_one = run_isolated if experiment.run.isolate else run_guarded
    status = "crashed"
    try:
        with _sigterm_as_interrupt():
            for index, config in enumerate(configs):
                outcomes[index].status = "running"
                outcomes[index] = run_one(config, experiment, device, run_dir)
                manifest["configurations"] = [dataclasses.asdict(o) for o in outcomes]
                write_json_atomic(run_dir / MANIFEST, manifest)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise RunInterrupted(run_dir) from None
    finally:
        _finish(run_dir, manifest, outcomes, status)
    return run_dir


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (timeout, systemd, docker stop) like Ctrl-C, so the run is closed properly."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finish(run_dir: Path, manifest: dict[str, Any], outcomes: list[Outcome], status: str) -> None:
    records, bad = read_frames(run_dir / FRAMES)
    for outcome in outcomes:
        if outcome.status == "running":  # stopped mid-way: say so, with what it wrote
            outcome.status, outcome.reason = "interrupted", f"run {status}"
            outcome.measured_frames = sum(1 for r in records if r["config_id"] == outcome.config_id and not r["warmup"] and r["ok"])
    summary = summarize(records, [dataclasses.asdict(o) for o in outcomes])
    summary.to_csv(run_dir / SUMMARY, index=False, float_format="%.6g")
    model_files = sorted({f for o in outcomes for f in o.model_files})
    models, reasons = fingerprint_models(Path(f) for f in model_files)
    manifest["environment"]["models"] = models
    manifest["environment"]["unavailable"] += reasons
    manifest["configurations"] = [dataclasses.asdict(o) for o in outcomes]
    manifest["status"] = status
    manifest["finished_at_utc"] = _utc()
    manifest["environment_end"] = {"cpu": capture_cpu(), "thermal": [dict(z) for z in capture_thermal()[0]]}
    manifest["validity"] = _validity(outcomes, bad, status, manifest["device"]["name"] == manifest["environment"]["device"])
    write_json_atomic(run_dir / MANIFEST, manifest)


def _validity(outcomes: list[Outcome], bad_lines: int, status: str, device_matches: bool) -> dict[str, Any]:
    done = [o for o in outcomes if o.status == "complete"]
    return {
        "complete": status == "complete",
        "failed_configurations": [o.config_id for o in outcomes if o.status == "failed"],
        "all_minimums_met": bool(done) and all(all(o.validity.values()) for o in done),
        "warmup_excluded": True,
        "device_matches_detected": device_matches,
        "bad_frame_lines": bad_lines,
        "energy": "unavailable: no energy sensors are read by this version",
    }
