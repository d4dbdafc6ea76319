"""Everything that can be checked before a run directory exists: models, backends, sources.

``load_experiment`` already rejected what the files say (unknown keys, ids that cannot name files,
settings a source kind cannot honour); here the machine is asked: every source's files or camera are
opened and closed, every backend's models are found and verified (hashed once, here) and its packages,
devices and tokenizers checked. A configuration error is then one line and exit 2 before anything is
written; a worker fails only for reasons of the machine (a backend that crashes, hangs or runs out of
memory). The returned experiment carries the resolved models, so workers look nothing up again.
"""

from __future__ import annotations

import dataclasses

from harness.context import BackendContext
from harness.devices import DeviceProfile
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.run.experiment import Component, Experiment

__all__ = ["preflight"]


def preflight(experiment: Experiment, device: DeviceProfile) -> Experiment:
    """Check what can be checked before any run directory exists; return the experiment to run.

    A missing or corrupt model, an absent image folder or video file, or an absent or busy camera is then a
    one-line error (exit 2), not a failed configuration after the run started. Components marked
    ``optional`` whose backend, model or data is not available here are dropped instead, each with its
    reason (``Experiment.skipped``).
    """
    context = device.context()
    skipped: list[tuple[str, str]] = []
    kept: dict[str, list[Component]] = {"source": [], "ocr": [], "mt": []}
    for component in (*experiment.sources, *experiment.ocr, *experiment.mt):
        checked = _checked(component, context, skipped)
        if checked is not None:
            kept[component.kind].append(checked)
    if not kept["source"]:
        raise DataMissing(f"no source of the experiment is available here: {'; '.join(why for _, why in skipped)}")
    for kind, stage_on in (("ocr", experiment.stages.ocr), ("mt", experiment.stages.mt)):
        if stage_on and not kept[kind]:
            raise DataMissing(f"no {kind} backend of the experiment is available here: {'; '.join(why for _, why in skipped)}")
    ocr, mt = tuple(kept["ocr"]) or experiment.ocr, tuple(kept["mt"]) or experiment.mt
    return dataclasses.replace(experiment, sources=tuple(kept["source"]), ocr=ocr, mt=mt, skipped=tuple(skipped))


def _checked(component: Component, context: BackendContext, skipped: list[tuple[str, str]]) -> Component | None:
    """The component checked (a backend: its models resolved); None, its reason in ``skipped``, if optional and unavailable."""
    try:
        return component.preflight(context)
    except (BackendUnavailable, DataMissing, ConfigError) as exc:  # preflight: what this machine lacks
        if not component.optional:
            raise
        skipped.append((component.id, str(exc)))
        return None
