"""What a backend asks for (``ModelRef`` by part) → verified files, once, before the backend starts.

A run resolves every component's models in preflight: manifest entries are checked against their pinned
sha256 and size, paths the user named against their format, and every file is hashed once (the hashes
are cached for the run's manifest and inherited by forked workers). The worker's backend then gets the
verified paths in ``BackendContext.models`` and looks nothing up itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.context import BackendContext, ModelRef
from harness.errors import ConfigError, DataMissing
from harness.models.manifest import ModelEntry, find_model, load_manifest, resolve_file
from harness.models.verify import check_model_path, verify_model
from harness.registry import plugin
from harness.system.fingerprint import ModelFile, fingerprint_models

__all__ = ["ResolvedModel", "resolve_models", "resolve_refs", "with_models"]


@dataclass(frozen=True)
class ResolvedModel:
    """One resolved part: the path its backend gets, the manifest entry it came from (None: a path), its files."""

    path: Path
    entry: str | None
    precision: str | None
    files: tuple[ModelFile, ...]

    def describe(self) -> dict[str, Any]:
        """For the run manifest: path, entry id, precision and each file's size and sha256."""
        return {"path": str(self.path), "entry": self.entry, "precision": self.precision, "files": [dict(f) for f in self.files]}


def resolve_refs(refs: Mapping[str, ModelRef], what: str, manifest: list[ModelEntry] | None = None) -> dict[str, ResolvedModel]:
    """Each part of ``refs`` found and verified; ``what`` names the component in messages."""
    if not refs:
        return {}
    entries = manifest if manifest is not None else load_manifest()
    return {part: _resolve(ref, f"{what} {part}", entries) for part, ref in refs.items()}


def _resolve(ref: ModelRef, what: str, manifest: list[ModelEntry]) -> ResolvedModel:
    if ref.family:
        return _from_entry(find_model(ref.family, ref.task, ref.precision, manifest, backend=ref.backend or None), ref)
    entry = next((e for e in manifest if e.id == ref.name), None)
    if entry is not None:
        if ref.backend and entry.backend != ref.backend:
            raise ConfigError(f"model {ref.name!r} is a {entry.backend} model in the manifest; the {ref.backend} backend cannot run it")
        return _from_entry(entry, ref)
    if not ref.name:
        raise ConfigError(f"{what}: no model named")
    path = resolve_file(ref.name)
    if ref.form == "dir" and not path.is_dir():
        raise DataMissing(
            f"{what}: model directory {path} not found (nor a manifest id {ref.name!r});"
            " run `arbench models fetch opus-mt-en-es` or fix `model` in the experiment"
        )
    check_model_path(path, ref.form, what)
    # A folder the user names holds more than the backend loads (a converter's record, a second weights format):
    # its backend reports the files it loaded (``model_files``), and the run's manifest hashes those, once.
    return ResolvedModel(path, None, None, () if path.is_dir() else tuple(_fingerprints([path])))


def _from_entry(entry: ModelEntry, ref: ModelRef) -> ResolvedModel:
    paths = verify_model(entry)
    path = paths[0].parent if ref.form == "dir" else paths[0]
    return ResolvedModel(path, entry.id, entry.precision, tuple(_fingerprints(paths)))


def _fingerprints(paths: list[Path]) -> list[ModelFile]:
    files, problems = fingerprint_models(paths)
    if problems:
        raise DataMissing(f"{problems[0]}; check the file's permissions")
    return files


def resolve_models(kind: str, backend: str, options: Any, what: str) -> dict[str, ResolvedModel]:
    """The models the ``backend`` plugin of ``kind`` asks for with ``options``, resolved."""
    return resolve_refs(plugin(kind, backend, what).model_refs(options), what)


def with_models(kind: str, backend: str, options: Any, context: BackendContext | None = None) -> BackendContext:
    """``context`` with the backend's models resolved: for creating a backend outside a run (tests, tools)."""
    resolved = resolve_models(kind, backend, options, f"{kind} {backend}")
    return (context or BackendContext()).with_models({part: model.path for part, model in resolved.items()})
