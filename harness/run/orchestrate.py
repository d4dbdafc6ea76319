"""Runs a whole experiment into a new run directory: results/<device>/<run-id>/.

The manifest is written before the first frame (status "running") and rewritten atomically after each
configuration, so a run that is killed with SIGKILL still says what it was, what finished and that it
is partial. Ctrl-C and SIGTERM close the run properly (status "interrupted", summary written). Each
configuration runs in its own process when ``run.isolate`` is set (harness.run.isolation). A run that
did not finish continues with ``resume`` (harness.run.resume): finished (configuration, round)s are
kept, the others measured again.
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
from harness.devices import DeviceProfile
from harness.energy.manifest import energy_manifest, energy_validity
from harness.errors import RunInterrupted, UserError
from harness.metrics.latency import CI_METHODS
from harness.metrics.text import chrf_signature, corpus_signatures
from harness.paths import project_root
from harness.run.experiment import Experiment
from harness.run.isolation import run_guarded, run_isolated
from harness.run.outcome import Outcome, RoundPlan, merge_rounds
from harness.run.resume import Resume
from harness.run.runner import ACCEL_REQUIRED
from harness.store.reader import current_records, read_frames
from harness.store.schema import FRAMES, MANIFEST, SCHEMA_VERSION, SUMMARY
from harness.store.summary import summarize
from harness.store.writer import SpaceReserve, new_run_id, write_json_atomic, write_text_atomic
from harness.system.cpu import capture_cpu
from harness.system.environment import capture_environment
from harness.system.fingerprint import fingerprint_models
from harness.system.state import show_system
from harness.system.thermal import capture_thermal

__all__ = ["round_order", "run_experiment"]


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
            "only": list(experiment.only),  # `arbench run --configs` (a fleet shard): [] for the whole matrix
            "resolved": {
                "run": dataclasses.asdict(experiment.run),
                "stages": dataclasses.asdict(experiment.stages),
                "overlay": dataclasses.asdict(experiment.overlay),
                "energy": dataclasses.asdict(experiment.energy),
                "configurations": {c.config_id: c.describe() for c in experiment.configurations()},
            },
            "skipped": [{"id": component_id, "reason": why} for component_id, why in experiment.skipped],
        },
        "device": dataclasses.asdict(device),
        "environment": capture_environment(root=Path(experiment.energy.root), repo_dir=project_root()),
        "system": show_system(Path(experiment.energy.root)),
        "metrics": {
            "mt_chrf": chrf_signature(),
            **corpus_signatures(),
            "latency_ci_methods": CI_METHODS,  # what summary.csv's p50_ci_method values mean (95%, NaN below 6 frames)
        },
        "configurations": [dataclasses.asdict(o) for o in outcomes],
        "validity": {"complete": False},
    }


class AcceleratorRefused(UserError):
    """A configuration would run below the profile's first provider under ``require_accel``."""


def run_experiment(
    experiment: Experiment,
    device: DeviceProfile,
    out_root: Path,
    resume_key: dict[str, Any] | None = None,
    resume: Resume | None = None,
    folder: str | None = None,
) -> Path:
    """Run every configuration and return the run directory (call ``preflight`` first).

    ``resume_key`` (``harness.run.resume.resume_key``) is stored so the run can be resumed; ``resume``
    continues the run it names instead of starting one. ``folder``: the device folder under ``out_root``
    (default: the profile's name; the detected device's when a profile runs on another machine).
    A configuration refused under ``device.require_accel`` stops the run: UserError, the run kept.
    """
    configs = experiment.configurations()
    run_dir, manifest, outcomes = _open_run(experiment, device, out_root, resume_key, resume, folder or device.name)
    attempt = manifest["invocations"][-1]["attempt"]
    reserve = SpaceReserve(run_dir)  # room for the closing summary and manifest, should frames fill the disk
    run_one = run_isolated if experiment.run.isolate else run_guarded
    status = "crashed"
    try:
        with _sigterm_as_interrupt():
            finished: dict[str, dict[str, Any]] = manifest["round_outcomes"]
            first_round_frames = {
                i: done["0"]["measured_frames"] + done["0"]["failed_frames"]
                for i, c in enumerate(configs)
                if "0" in (done := finished.get(c.config_id, {}))
            }
            for round_index in range(experiment.run.rounds):
                for index in round_order(len(configs), round_index):
                    before = outcomes[index]
                    if str(round_index) in finished.get(configs[index].config_id, {}):
                        continue  # measured by an earlier invocation of this run
                    if round_index and before.status != "complete":
                        continue  # failed in an earlier round: not run again
                    outcomes[index] = dataclasses.replace(before, status="running")
                    manifest["configurations"] = [dataclasses.asdict(o) for o in outcomes]
                    with contextlib.suppress(OSError):  # a run killed now shows this configuration running, not pending
                        write_json_atomic(run_dir / MANIFEST, manifest)
                    frames = first_round_frames.get(index) if round_index else None  # later rounds: as many as round 1
                    now = run_one(configs[index], experiment, device, run_dir, RoundPlan(round_index, frames, attempt))
                    finished.setdefault(configs[index].config_id, {})[str(round_index)] = {
                        **dataclasses.asdict(now),
                        "attempt": attempt,
                    }
                    outcomes[index] = merge_rounds(before, now) if round_index else now
                    if not round_index:
                        first_round_frames[index] = now.measured_frames + now.failed_frames
                    manifest["configurations"] = [dataclasses.asdict(o) for o in outcomes]
                    with contextlib.suppress(OSError):  # a full disk: the closing manifest (with the reserve) says it all
                        write_json_atomic(run_dir / MANIFEST, manifest)
                    for line in now.accelerator_fallbacks if not round_index else []:
                        print(f"arbench: warning: {now.config_id}: {line} (--require-accel refuses this)", file=sys.stderr)
                    if now.status == "failed" and (now.reason or "").startswith(ACCEL_REQUIRED):
                        raise AcceleratorRefused(f"{now.config_id}: {now.reason}; the run stopped (what it measured is in {run_dir})")
        status = "complete"
    except AcceleratorRefused:
        status = "refused"
        raise
    except KeyboardInterrupt:
        status = "interrupted"
        raise RunInterrupted(run_dir) from None
    finally:
        reserve.release()
        _finish(run_dir, manifest, outcomes, status)
    return run_dir


def _open_run(
    experiment: Experiment, device: DeviceProfile, out_root: Path, resume_key: dict[str, Any] | None, resume: Resume | None, folder: str
) -> tuple[Path, dict[str, Any], list[Outcome]]:
    """A new run folder with its first manifest, or the resumed run's; either way with this invocation added."""
    if resume is None:
        run_id = new_run_id()
        run_dir = out_root / folder / run_id
        try:
            run_dir.mkdir(parents=True)
        except OSError as exc:
            raise UserError(f"cannot create the run directory {run_dir}: {exc.strerror}; choose another --out") from None
        (run_dir / FRAMES).touch()
        outcomes = [Outcome(c.config_id) for c in experiment.configurations()]
        manifest = _manifest(experiment, device, run_id, outcomes)
        manifest.update(resume_key=resume_key, invocations=[], round_outcomes={}, superseded=[], stored_under=folder)
    else:
        run_dir, manifest, outcomes = resume.run_dir, resume.manifest, resume.outcomes
        manifest["superseded"] += resume.superseded
        manifest["status"], manifest["finished_at_utc"] = "running", None
        manifest["configurations"] = [dataclasses.asdict(o) for o in outcomes]
    invocation = {"attempt": len(manifest["invocations"]), "started_at_utc": _utc(), "finished_at_utc": None, "status": "running"}
    manifest["invocations"].append({**invocation, "command": sys.argv, "forced": resume.forced if resume else []})
    write_json_atomic(run_dir / MANIFEST, manifest)
    return run_dir, manifest, outcomes


def round_order(count: int, round_index: int) -> list[int]:
    """Configuration indices in the order round ``round_index`` runs them: forward, then backward, in turn."""
    order = list(range(count))
    return order if round_index % 2 == 0 else order[::-1]


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
    records = current_records(records, manifest)
    for outcome in outcomes:
        if outcome.status == "running":  # stopped mid-way: say so, with what it wrote
            outcome.status, outcome.reason = "interrupted", f"run {status}"
            outcome.measured_frames = sum(1 for r in records if r["config_id"] == outcome.config_id and not r["warmup"] and r["ok"])
    summary = summarize(records, [dataclasses.asdict(o) for o in outcomes])
    write_text_atomic(run_dir / SUMMARY, summary.to_csv(index=False, float_format="%.6g"))
    model_files = sorted({f for o in outcomes for f in o.model_files})
    models, reasons = fingerprint_models(Path(f) for f in model_files)
    manifest["environment"]["models"] = models
    manifest["environment"]["unavailable"] += reasons
    manifest["configurations"] = [dataclasses.asdict(o) for o in outcomes]
    manifest["status"] = status
    manifest["finished_at_utc"] = _utc()
    manifest["invocations"][-1].update(finished_at_utc=manifest["finished_at_utc"], status=status)
    root = Path(manifest["experiment"]["resolved"]["energy"]["root"])  # where /sys and /proc are read, as at the start
    manifest["environment_end"] = {"cpu": capture_cpu(root), "thermal": [dict(z) for z in capture_thermal(root)[0]]}
    manifest["system_end"] = show_system(root)
    manifest["energy"] = energy_manifest(outcomes)
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
        **energy_validity(outcomes),
    }
