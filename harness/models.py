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

__all__ = ["ModelEntry", "check_onnx_file", "find_model", "load_manifest", "resolve_file", "verify_model"]

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


def verify_model(entry: ModelEntry) -> list[Path]:
    """The entry's files, checked: present, and matching their pinned sha256 where one is given."""
    from harness.system.fingerprint import sha256_file

    paths = entry.paths()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        how = "run `arbench models build`" if entry.recipe else f"install its source ({entry.source})"
        raise DataMissing(f"model {entry.id}: {missing[0]} is missing; {how}")
    for path, size in zip(paths, entry.size_bytes, strict=False):
        if path.stat().st_size != size:
            raise DataMissing(
                f"model {entry.id}: {path} is {path.stat().st_size} bytes, the manifest says {size};"
                " the file is truncated or replaced: rebuild it with `arbench models build --force` or restore it"
            )
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


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def check_onnx_file(path: Path) -> None:
    """Raise DataMissing unless ``path`` is a whole ONNX model: its top-level protobuf fields parse to the last byte.

    A cheap check of files that no sha256 pins (a model named by path): it catches a truncated, empty or
    non-ONNX file before a run starts, without loading ONNX Runtime in the harness process.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataMissing(f"model file {path}: {exc.strerror}") from None
    pos, fields = 0, set()
    try:
        while pos < len(data):
            tag, pos = _varint(data, pos)
            number, wire = tag >> 3, tag & 7
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 2:
                length, pos = _varint(data, pos)
                pos += length
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            else:
                raise ValueError(f"wire type {wire}")
            if pos > len(data):
                raise ValueError("a field runs past the end of the file")
            fields.add(number)
    except ValueError as exc:
        raise DataMissing(f"model file {path} is not a whole ONNX model ({exc}): the file is corrupt or truncated") from None
    if not {1, 7} <= fields:  # ir_version and graph
        raise DataMissing(f"model file {path} is not an ONNX model (no ir_version or graph): the file is corrupt or of another kind")
