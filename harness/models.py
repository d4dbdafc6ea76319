"""The model manifest (models/manifest.toml): what models arbench knows and whether they are here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import project_root
from harness.errors import BackendUnavailable, ConfigError
from harness.tables import from_table, load_toml

__all__ = ["ModelEntry", "load_manifest", "resolve_file"]

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


def load_manifest(path: Path | None = None) -> list[ModelEntry]:
    """All model entries, validated."""
    file = path or project_root() / "models" / "manifest.toml"
    table = load_toml(file)
    entries = table.get("model", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{file}: expected [[model]] entries")
    return [from_table(ModelEntry, e, f"{file} [[model]] #{i + 1}") for i, e in enumerate(entries)]
