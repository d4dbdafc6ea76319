"""The model manifest (models/manifest.toml): known models, their presence and their sha256.

Experiments name models by family and precision (``precision = "int8"`` on the rapidocr backend); the
manifest maps that to files. Entries with a ``recipe`` are built here by ``arbench models build``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import project_root
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.tables import from_table, load_toml

__all__ = ["ModelEntry", "find_model", "load_manifest", "resolve_file", "verify_model"]

APERTIUM_DIR = Path("/usr/share/apertium")


@dataclass(frozen=True)
class ModelEntry:
    """One model: its files may use the {rapidocr} and {apertium} placeholders."""

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

    def paths(self) -> list[Path]:
        """Its files with placeholders resolved."""
        return [resolve_file(f) for f in self.files]

    def present(self) -> bool:
        """Whether every file exists here."""
        return all(p.is_file() for p in self.paths())


def resolve_file(template: str) -> Path:
    """Expand {rapidocr} and {apertium}; other paths are relative to the project root."""
    if "{rapidocr}" in template:
        from harness.ocr.rapidocr import packaged_model_dir

        try:
            return Path(template.replace("{rapidocr}", str(packaged_model_dir())))
        except BackendUnavailable:  # package absent: the file is simply not present
            return Path(template.replace("{rapidocr}", "/nonexistent/rapidocr"))
    if "{apertium}" in template:
        return Path(template.replace("{apertium}", str(APERTIUM_DIR)))
    path = Path(template)
    return path if path.is_absolute() else project_root() / path


def find_model(family: str, task: str, precision: str, manifest: list[ModelEntry] | None = None) -> ModelEntry:
    """The manifest entry for a model family's part at a precision, or a ConfigError listing what exists."""
    entries = [e for e in (manifest or load_manifest()) if e.family == family and e.task == task]
    for entry in entries:
        if entry.precision == precision:
            return entry
    have = ", ".join(sorted(e.precision for e in entries)) or "none"
    raise ConfigError(f"no {family} {task} model at precision {precision!r} in models/manifest.toml; available: {have}")


def verify_model(entry: ModelEntry) -> list[Path]:
    """The entry's files, checked: present, and matching their pinned sha256 where one is given."""
    from harness.system.fingerprint import sha256_file

    paths = entry.paths()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        how = "run `arbench models build`" if entry.recipe else f"install its source ({entry.source})"
        raise DataMissing(f"model {entry.id}: {missing[0]} is missing; {how}")
    for path, expected in zip(paths, entry.sha256, strict=False):
        actual = sha256_file(path)
        if actual != expected:
            raise DataMissing(
                f"model {entry.id}: {path} has sha256 {actual[:12]}…, the manifest pins {expected[:12]}…;"
                " the file is corrupt or replaced: rebuild it with `arbench models build --force` or restore it"
            )
    return paths


def load_manifest(path: Path | None = None) -> list[ModelEntry]:
    """All model entries, validated."""
    file = path or project_root() / "models" / "manifest.toml"
    table = load_toml(file)
    entries = table.get("model", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: expected [[model]] entries")
    return [from_table(ModelEntry, e, f"{file} [[model]] #{i + 1}") for i, e in enumerate(entries)]
