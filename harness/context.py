"""What a backend may know when it starts: the device profile's threads, providers and camera, and its verified models.

Backends never look models up themselves: each says which models it needs (a module-level
``model_refs(options)`` returning ``ModelRef`` by part), ``harness.models.resolve`` finds and verifies
them once (in preflight, before a run directory exists) and the paths arrive here, in ``models``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.errors import BackendUnavailable

__all__ = ["BackendContext", "ModelRef"]


@dataclass(frozen=True)
class ModelRef:
    """One model a backend needs.

    Either a manifest entry by ``family``, ``task`` and ``precision`` on ``backend``, or by ``name``: a
    manifest id, else a path (relative paths: from the project root). ``form`` is what a path must be:
    "onnx" or "tflite" (a whole model file of that format), "dir" (a folder; a manifest entry then
    gives its files' folder), or "" (any file).
    """

    family: str = ""
    task: str = ""
    precision: str = ""
    backend: str = ""
    name: str = ""
    form: str = ""


@dataclass(frozen=True)
class BackendContext:
    """Per-backend runtime settings: from the device profile, and the models resolved for this backend.

    ``threads``: compute threads the device profile allots (0: the runtime's default).
    ``providers``: ONNX Runtime execution providers in order of preference.
    ``camera``: the profile's camera (index, device node or GStreamer pipeline) for camera sources.
    ``models``: verified model files (or folders) by the part names of the backend's ``model_refs``.
    """

    threads: int = 0
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    camera: str = "0"
    models: Mapping[str, Path] = field(default_factory=dict)

    def model(self, part: str, backend: str) -> Path:
        """The verified path of ``part``; a backend created without its models resolved is a bug of the caller."""
        found = self.models.get(part)
        if found is None:
            raise BackendUnavailable(
                f"{backend}: its {part} model was not resolved; create backends through a run's components"
                " (harness.run.experiment.Component.create) or harness.models.resolve.with_models"
            )
        return found

    def with_models(self, models: Mapping[str, Path]) -> BackendContext:
        """The same context with ``models`` as the backend's resolved models."""
        return replace(self, models=dict(models))
