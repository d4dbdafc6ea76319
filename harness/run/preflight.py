"""Everything that can be checked before a run directory exists: models, backends, sources, the matrix.

A configuration error is then one line and exit 2 before anything is written; a worker fails only for
reasons of the machine (a backend that crashes, hangs or runs out of memory).
"""

from __future__ import annotations

import dataclasses

from harness.context import BackendContext
from harness.devices import DeviceProfile
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.registry import plugin
from harness.run.experiment import Component, Experiment

__all__ = ["preflight"]


def preflight(experiment: Experiment, device: DeviceProfile) -> Experiment:
    """Check what can be checked before any run directory exists; return the experiment to run.

    A missing or corrupt model, or an absent or busy camera, is then a one-line error (exit 2), not a
    failed configuration after the run started. Components marked ``optional`` whose backend or model is
    not available here are dropped instead, each with its reason (``Experiment.skipped``).
    """
    skipped: list[tuple[str, str]] = []
    kept: dict[str, list[Component]] = {"ocr": [], "mt": []}
    for component in (*experiment.ocr, *experiment.mt):
        try:
            plugin(component.kind, component.backend, component.id).preflight(component.options)
        except (BackendUnavailable, DataMissing, ConfigError) as exc:  # preflight: what this machine lacks
            if not component.optional:
                raise
            skipped.append((component.id, str(exc)))
            continue
        kept[component.kind].append(component)
    for kind, stage_on in (("ocr", experiment.stages.ocr), ("mt", experiment.stages.mt)):
        if stage_on and not kept[kind]:
            raise DataMissing(f"no {kind} backend of the experiment is available here: {'; '.join(why for _, why in skipped)}")
    for component in experiment.sources:
        factory = plugin(component.kind, component.backend, component.id).factory_class()
        text_only = getattr(factory, "modality", "image") == "text"
        if text_only and (experiment.stages.ocr or experiment.stages.overlay):
            raise ConfigError(f"source {component.id!r} gives text, not images: set [stages] ocr = false and overlay = false (MT only)")
        if experiment.run.all_frames and (component.backend == "camera" or getattr(component.options, "loop", False)):
            raise ConfigError(f"[run] all_frames measures each frame once: set loop = false on source {component.id!r} (cameras cannot)")
    context = BackendContext.from_device(device)
    for component in experiment.sources:
        if component.backend == "camera":
            camera = component.create(context)
            camera.open()
            camera.close()
    ocr, mt = tuple(kept["ocr"]) or experiment.ocr, tuple(kept["mt"]) or experiment.mt
    return dataclasses.replace(experiment, ocr=ocr, mt=mt, skipped=tuple(skipped))
