"""The model manifest (models/manifest.toml): known models, their files, pins and where their roots are.

Experiments name models by family and precision (``precision = "int8"`` on the rapidocr backend) or by
id; the manifest maps that to files. A file may start with a ``{root}`` placeholder: ``[roots.NAME]``
says where NAME is, either the folder of an installed Python package (found without importing it) or a
system folder, so the manifest, not a backend, knows where packaged models live. Entries with a
``recipe`` are built here by ``arbench models build``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.paths import project_root
from harness.tables import from_table, load_toml

__all__ = ["ModelEntry", "Root", "default_manifest", "find_model", "load_manifest", "load_roots", "model_root", "resolve_file"]

ABSENT = Path("/nonexistent")  # where a root that is not installed points: its models are simply absent
PLACEHOLDER = re.compile(r"^\{([a-z0-9_]+)\}")


@dataclass(frozen=True)
class Root:
    """``[roots.NAME]``: ``package`` (an importable name) plus ``subdir``, or a ``path``."""

    package: str = ""
    subdir: str = ""
    path: str = ""

    def folder(self) -> Path:
        """The folder it names here; ``ABSENT``/NAME when the package is not installed."""
        if self.path:
            return Path(self.path)
        spec = find_spec(self.package)
        if spec is None or spec.origin is None:
            return ABSENT / self.package
        return Path(spec.origin).parent / self.subdir


@dataclass(frozen=True)
class ModelEntry:
    """One model: ``files`` relative to the project root or below a ``{root}``; ``sha256`` and ``size_bytes`` pin them."""

    id: str
    task: str
    backend: str
    precision: str
    files: tuple[str, ...]
    source: str
    licence: str
    family: str = ""
    recipe: str | None = None
    sha256: tuple[str, ...] = ()  # one per file, when pinned
    size_bytes: tuple[int, ...] = ()  # one per file, when pinned
    roots: Mapping[str, Root] = field(default_factory=dict, repr=False, compare=False)  # from the entry's manifest

    def paths(self) -> list[Path]:
        """Its files with placeholders resolved."""
        return [resolve_file(f, self.roots or None) for f in self.files]

    def present(self) -> bool:
        """Whether every file exists here."""
        return all(p.is_file() for p in self.paths())


def default_manifest() -> Path:
    """The project's models/manifest.toml."""
    return project_root() / "models" / "manifest.toml"


def resolve_file(template: str, roots: Mapping[str, Root] | None = None) -> Path:
    """Expand a ``{root}`` placeholder (roots of the project manifest unless given); other paths are from the project root."""
    match = PLACEHOLDER.match(template)
    if match:
        known = roots if roots is not None else load_roots()
        if match.group(1) not in known:
            raise ConfigError(f"model file {template!r}: no [roots.{match.group(1)}] in the manifest; valid: {', '.join(sorted(known))}")
        return Path(str(known[match.group(1)].folder()) + template[match.end() :])
    path = Path(template)
    return path if path.is_absolute() else project_root() / path


def model_root(name: str) -> Path:
    """The folder ``[roots.NAME]`` of the project manifest names (e.g. the rapidocr package's models)."""
    return resolve_file(f"{{{name}}}")


def find_model(family: str, task: str, precision: str, manifest: list[ModelEntry] | None = None, backend: str | None = None) -> ModelEntry:
    """The manifest entry for a model family's part at a precision (on ``backend`` if given), or a ConfigError listing what exists."""
    entries = [
        e for e in (manifest or load_manifest()) if e.family == family and e.task == task and (backend is None or e.backend == backend)
    ]
    for entry in entries:
        if entry.precision == precision:
            return entry
    have = ", ".join(sorted(e.precision for e in entries)) or "none"
    where = f" for backend {backend}" if backend else ""
    raise ConfigError(f"no {family} {task} model{where} at precision {precision!r} in models/manifest.toml; available: {have}")


def load_manifest(path: Path | None = None) -> list[ModelEntry]:
    """All model entries, validated, each knowing its manifest's roots."""
    file = path or default_manifest()
    table = load_toml(file)
    entries = table.get("model", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: expected [[model]] entries")
    roots = _roots(table, file)
    return [_entry(e, roots, f"{file} [[model]] #{i + 1}") for i, e in enumerate(entries)]


def _entry(table: Any, roots: Mapping[str, Root], where: str) -> ModelEntry:
    if isinstance(table, dict) and "roots" in table:
        raise ConfigError(f"{where}: unknown key 'roots' (roots are a [roots.NAME] table of the manifest)")
    entry = from_table(ModelEntry, table, where)
    return ModelEntry(**{**entry.__dict__, "roots": roots})


def load_roots(path: Path | None = None) -> dict[str, Root]:
    """The ``[roots]`` of a manifest (default: the project's), read once per file and modification time."""
    file = path or default_manifest()
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return dict(_cached_roots(str(file), stamp))


@lru_cache(maxsize=8)
def _cached_roots(file: str, stamp: int) -> tuple[tuple[str, Root], ...]:
    return tuple(_roots(load_toml(Path(file)), Path(file)).items())


def _roots(table: dict[str, Any], file: Path) -> dict[str, Root]:
    raw = table.get("roots", {})
    if not isinstance(raw, dict):
        raise ConfigError(f'{file}: [roots] must be tables such as [roots.rapidocr] package = "rapidocr_onnxruntime"')
    roots = {name: from_table(Root, value, f"{file} [roots.{name}]") for name, value in raw.items()}
    for name, root in roots.items():
        if bool(root.path) == bool(root.package):
            raise ConfigError(f"{file} [roots.{name}]: give either `path` or `package` (with `subdir`)")
    return roots
