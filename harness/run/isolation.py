"""One configuration in its own process, with a watchdog.

Each configuration runs in a forked worker so that threads, caches and memory cannot leak from one
configuration into the next, a crash in native code fails only that configuration, and a backend that
hangs can be stopped. The worker tells the parent when its setup is done and when each frame is written;
the parent waits at most ``setup_timeout_s`` for the first and ``frame_timeout_s`` for each next word (a
frame, or the outcome once the worker has closed its backends), then kills the worker and records the
configuration as failed (timed out). The frames written before stay in frames.jsonl.

The worker ignores Ctrl-C (the parent decides what an interrupt means) and asks Linux to kill it if the
parent dies, so a killed run leaves no orphan writing frames.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

from harness.devices import DeviceProfile
from harness.run.experiment import Configuration, Experiment
from harness.run.outcome import FIRST_ROUND, Outcome, RoundPlan
from harness.run.runner import Beat, run_configuration
from harness.store.reader import read_frames
from harness.store.schema import FRAMES

__all__ = ["run_guarded", "run_isolated"]


def run_guarded(
    config: Configuration,
    experiment: Experiment,
    device: DeviceProfile,
    run_dir: Path,
    plan: RoundPlan = FIRST_ROUND,
    beat: Beat | None = None,
) -> Outcome:
    """Run a configuration in this process; a bug fails the configuration (traceback on stderr)."""
    try:
        return run_configuration(config, experiment, device, run_dir, plan, beat)
    except Exception as exc:  # noqa: BLE001 - a bug: fail this configuration with its reason, show the traceback, go on
        traceback.print_exc()
        return Outcome(config.config_id, status="failed", reason=f"internal error: {type(exc).__name__}: {exc}")


def run_isolated(
    config: Configuration, experiment: Experiment, device: DeviceProfile, run_dir: Path, plan: RoundPlan = FIRST_ROUND
) -> Outcome:
    """Run a configuration in a forked worker and return its outcome, or a failure if it died or hung."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_worker, args=(sender, os.getpid(), config, experiment, device, run_dir, plan))
    worker.start()
    sender.close()
    try:
        outcome = _await(receiver, worker, config, experiment)
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
    if outcome.status == "failed" and not outcome.measured_frames + outcome.warmup_frames + outcome.failed_frames:
        _count_written(outcome, run_dir, plan)  # killed or died: what it wrote still counts
    return outcome


def _count_written(outcome: Outcome, run_dir: Path, plan: RoundPlan) -> None:
    """The frames a killed worker wrote for this configuration and round, counted as the worker would have."""
    records, _ = read_frames(run_dir / FRAMES)
    mine = [r for r in records if r["config_id"] == outcome.config_id and r.get("round", 0) == plan.index]
    outcome.warmup_frames = sum(1 for r in mine if r["warmup"] and r["ok"])
    outcome.measured_frames = sum(1 for r in mine if not r["warmup"] and r["ok"])
    outcome.failed_frames = sum(1 for r in mine if not r["ok"])


def _await(receiver: Connection, worker: multiprocessing.process.BaseProcess, config: Configuration, experiment: Experiment) -> Outcome:
    """The worker's outcome; a failed one where it stays silent past a deadline (and is killed) or dies."""
    run = experiment.run
    waiting_for, limit_s, frames = "setup", run.setup_timeout_s, 0
    while True:
        if not receiver.poll(limit_s):
            worker.kill()
            if waiting_for == "setup":
                why = f"setup took longer than setup_timeout_s = {run.setup_timeout_s:g} s (a backend hung while loading?)"
            else:
                why = f"a frame took longer than frame_timeout_s = {run.frame_timeout_s:g} s after {frames} frame(s) (a backend hung?)"
            return Outcome(config.config_id, status="failed", reason=f"timed out: {why}")
        try:
            message = receiver.recv()
        except EOFError:
            worker.join()
            return Outcome(config.config_id, status="failed", reason=f"worker process died (exit code {worker.exitcode})")
        if isinstance(message, Outcome):
            return message
        frames += message == "frame"
        waiting_for, limit_s = "frame", run.frame_timeout_s


def _worker(
    sender: Connection, parent: int, config: Configuration, experiment: Experiment, device: DeviceProfile, run_dir: Path, plan: RoundPlan
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    start_mb = _rss_mb()
    outcome = run_guarded(config, experiment, device, run_dir, plan, sender.send)
    outcome.rss_start_mb = start_mb
    outcome.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    sender.send(outcome)
    sender.close()


def _rss_mb() -> float | None:
    """The resident set of the calling process now, in MiB (None where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this worker when the parent dies; exit now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)
