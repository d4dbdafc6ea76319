"""The model manifest (models/manifest.toml): known models, their presence and their sha256.

Experiments name models by family and precision (``precision = "int8"`` on the rapidocr backend); the
manifest maps that to files. Entries with a ``recipe`` are built here by ``arbench models build``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import BackendUnavailable, ConfigError
from harness.paths import project_root
from harness.tables import from_table, load_toml

__all__ = ["ModelEntry", "find_model", "load_manifest", "resolve_file"]

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
    size_bytes: tuple[int, ...] = ()  # one per file, when pinned

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
    """All model entries, validated."""
    file = path or project_root() / "models" / "manifest.toml"
    table = load_toml(file)
    entries = table.get("model", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: expected [[model]] entries")
    return [from_table(ModelEntry, e, f"{file} [[model]] #{i + 1}") for i, e in enumerate(entries)]
