"""Runs one configuration.

Open the source and backends, warm up, measure until the stopping rule fires, write one record per
frame. A configuration that cannot start (backend missing, model absent) or that keeps failing is
reported as failed with its reason; the caller goes on with the next one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2

from harness.accelerators import fallbacks
from harness.devices import DeviceProfile
from harness.energy.meter import EnergyMeter
from harness.energy.writer import EnergyWriter
from harness.errors import UserError
from harness.pipeline import Pipeline, StageFailure
from harness.run.experiment import Configuration, Experiment, RunSettings
from harness.run.outcome import FIRST_ROUND, SAME_FRAMES, Outcome, RoundPlan
from harness.run.progress import Progress
from harness.run.scenarios import make_scenario
from harness.run.stopping import stop_reason, validity
from harness.store.schema import frame_record
from harness.store.writer import FrameWriter
from harness.trace import Tracer
from harness.types import Frame, FrameResult

__all__ = ["ACCEL_REQUIRED", "run_configuration"]

ACCEL_REQUIRED = "accelerator required"  # the reason of a configuration refused under require_accel

MAX_CONSECUTIVE_FAILURES = 3


class _Session:
    """The open source, pipeline and writer of one configuration; closes what it opened if setup fails."""

    def __init__(self, config: Configuration, experiment: Experiment, device: DeviceProfile, run_dir: Path) -> None:
        from harness.overlay.render import Overlay

        context = device.context()
        with contextlib.ExitStack() as stack:
            self.source = config.source.create(context)
            self.source.open()
            stack.callback(self.source.close)
            ocr = config.ocr.create(context)  # a stage switched off is the null backend (Experiment.configurations)
            stack.callback(ocr.close)
            mt = config.mt.create(context)
            stack.callback(mt.close)
            overlay = Overlay(experiment.overlay) if experiment.stages.overlay else None
            from harness.offload.session import open_remote

            remote = open_remote(config.cell, experiment.offload, ocr, mt)  # None for the local placement
            if remote is not None:
                stack.callback(remote.close)
            stages = config.mt.stages(experiment.stages)
            if experiment.offload is not None:  # the server translates lines: every placement does, so they compare like for like
                stages = replace(stages, mt_unit="line")
            self.pipeline = Pipeline(ocr, mt, overlay, stages, remote)
            if config.ar is not None:  # the real-time AR mode: keyframes read, regions tracked in between (never offloaded)
                from harness.ar.pipeline import ARPipeline

                self.pipeline = ARPipeline(ocr, mt, overlay, stages, config.ar.options)
            self.settings = experiment.run
            self.scenario = self._new_scenario()
            self.frames = self.scenario.frames(self._source_frames())
            self.meter = EnergyMeter(experiment.energy)  # probes the sensors; started after setup
            stack.callback(self.meter.stop)
            self.writer = EnergyWriter(FrameWriter(run_dir, fsync=experiment.run.fsync), self.meter)
            stack.pop_all()

    def _new_scenario(self) -> Any:
        return make_scenario(self.settings, self.source.fps, self.source.live)

    def _source_frames(self) -> Iterator[Frame]:
        """The source's frames, seen by the pipeline before the scenario drops any (the AR mode scores every frame)."""
        return self.pipeline.observe(self.source.frames())

    def restart(self) -> None:
        """Start the source again from its first frame (``all_frames``: the warm-up frames are measured too)."""
        self.pipeline.reset()  # the AR mode forgets what it tracked: the video starts over
        self.scenario = self._new_scenario()  # a camera-paced clock starts again with the source
        self.frames = self.scenario.frames(self._source_frames())

    def close(self) -> None:
        self.writer.close()
        self.pipeline.close()
        self.source.close()
        self.meter.stop()


Beat = Callable[[str], None]  # told "setup" once the backends are up, then "frame" after each frame is written


def run_configuration(
    config: Configuration,
    experiment: Experiment,
    device: DeviceProfile,
    run_dir: Path,
    plan: RoundPlan = FIRST_ROUND,
    beat: Beat | None = None,
) -> Outcome:
    """Run one configuration to its stopping rule (round ``plan.index``); never raises for a backend's or a frame's failure.

    ``beat`` (the isolated worker's watchdog) hears when setup is done and each frame is written.
    """
    beat = beat or (lambda _: None)
    outcome = Outcome(config.config_id, status="running")
    started = time.monotonic()
    try:
        session = _Session(config, experiment, device, run_dir)
    except (UserError, ImportError, OSError) as exc:
        return _failed(outcome, f"setup: {exc}")
    outcome.setup_s = time.monotonic() - started
    outcome.source_info = dict(session.source.info)
    outcome.accelerators = session.pipeline.accelerators()
    outcome.accelerator_fallbacks = fallbacks(outcome.accelerators, device.providers)
    if device.require_accel and outcome.accelerator_fallbacks:
        session.close()
        return _failed(outcome, f"{ACCEL_REQUIRED}: {'; '.join(outcome.accelerator_fallbacks)}")
    beat("setup")
    try:
        session.meter.start()  # the sampler, and the idle baseline before the first frame
        _measure(config, experiment, session, outcome, run_dir, plan, beat)
    finally:
        files = session.pipeline.model_files()
        outcome.model_files = [str(p) for p in files]
        outcome.model_mb = sum(p.stat().st_size for p in files if p.is_file()) / 1e6
        session.close()
        outcome.energy, outcome.telemetry = session.meter.describe(), session.meter.telemetry_summary()
    return outcome


def _failed(outcome: Outcome, reason: str) -> Outcome:
    outcome.status, outcome.reason = "failed", reason
    return outcome


def _measure(
    config: Configuration, experiment: Experiment, session: _Session, outcome: Outcome, run_dir: Path, plan: RoundPlan, beat: Beat
) -> None:
    settings = experiment.run
    label = f"{config.config_id} [round {plan.index + 1}/{settings.rounds}]" if settings.rounds > 1 else config.config_id
    progress = Progress(label, settings)
    seq, consecutive_failures, measure_start = 0, 0, None
    kept: list[FrameResult] = []  # overlay images to save, written after measurement so PNG encoding is not timed
    while True:
        warmup = outcome.warmup_frames < settings.warmup_frames
        if not warmup and measure_start is None:
            if settings.all_frames and outcome.warmup_frames:  # measure every frame once, the warm-up ones included
                session.restart()
            measure_start = time.monotonic()
        elapsed = time.monotonic() - measure_start if measure_start is not None else 0.0
        reason = None if warmup else _stop(settings, plan, outcome, elapsed)
        if reason:
            outcome.stop_reason = reason
            break
        tracer = Tracer(listeners=session.meter.listeners)
        session.scenario.wait(tracer)
        try:
            result = session.pipeline.step(session.frames, tracer)
            error = None
        except StageFailure as failure:
            result, error = None, str(failure)
        if result is None and error is None:
            outcome.stop_reason = "source_exhausted"
            break
        record = frame_record(config.config_id, seq, warmup, tracer.spans, result, error)
        _tag(record, plan, settings.rounds)
        if result is not None:
            session.scenario.annotate(record)
        try:
            session.writer.write(record)
        except OSError as exc:  # a full disk: the frames written so far stay whole, the configuration stops
            _failed(outcome, f"cannot write frames.jsonl ({exc.strerror or exc}); the {seq} frame record(s) before are kept")
            break
        beat("frame")
        seq += 1
        consecutive_failures = consecutive_failures + 1 if error else 0
        _count(outcome, warmup, error)
        if result is not None and result.image is not None and not warmup and plan.index == 0 and len(kept) < settings.save_overlays:
            kept.append(result)
        if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            _failed(outcome, f"{consecutive_failures} frames failed in a row; last: {error}")
            break
        progress.update(outcome.warmup_frames, outcome.measured_frames, elapsed)
    outcome.measured_s = time.monotonic() - measure_start if measure_start is not None else 0.0
    _finish(outcome, settings, _save_overlays(kept, run_dir, config.config_id), len(kept))
    progress.finish(
        f"{outcome.status}: {outcome.measured_frames} frames in {outcome.measured_s:.1f}s ({outcome.stop_reason or outcome.reason})"
    )


def _finish(outcome: Outcome, settings: RunSettings, unsaved: int, kept: int) -> None:
    """Validity and the final status of a configuration whose measurement ended; overlays that could not be written say so."""
    outcome.validity = validity(settings, outcome.measured_frames, outcome.measured_s, outcome.stop_reason)
    if unsaved:
        outcome.validity["overlays_saved"] = False
        outcome.reason = f"{unsaved} of {kept} overlay images could not be written (disk full or not writable?)"
    if outcome.status == "running" and outcome.measured_frames == 0:
        _failed(outcome, f"no frame was measured (stopped: {outcome.stop_reason}); the source has fewer frames than warmup_frames + 1?")
    if outcome.status == "running":
        outcome.status = "complete"


def _tag(record: dict[str, Any], plan: RoundPlan, rounds: int) -> None:
    """Mark a frame record with its round (when there are several) and its resumed invocation (when not the first)."""
    if rounds > 1:
        record["round"] = plan.index
    if plan.attempt:
        record["attempt"] = plan.attempt


def _stop(settings: RunSettings, plan: RoundPlan, outcome: Outcome, elapsed_s: float) -> str | None:
    """Why measurement stops now: a later round after as many frames as the first, else the stopping rule."""
    if plan.frames is not None:
        return SAME_FRAMES if outcome.measured_frames + outcome.failed_frames >= plan.frames else None
    return stop_reason(settings, outcome.measured_frames, elapsed_s)


def _count(outcome: Outcome, warmup: bool, error: str | None) -> None:
    if error:
        outcome.failed_frames += 1
    elif warmup:
        outcome.warmup_frames += 1
    else:
        outcome.measured_frames += 1


def _save_overlays(results: list[FrameResult], run_dir: Path, config_id: str) -> int:
    """Write the kept overlay images; the number that could not be written (``cv2.imwrite`` says so by returning False)."""
    folder = run_dir / "overlays" / config_id.replace("/", "__")
    unsaved = 0
    for number, result in enumerate(results, 1):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            written = cv2.imwrite(str(folder / f"{number:03d}_{result.frame.name or result.frame.frame_id}.png"), result.image)
        except (OSError, cv2.error):
            written = False
        unsaved += not written
    return unsaved
