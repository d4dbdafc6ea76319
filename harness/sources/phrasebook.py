"""The project's sign phrasebook: short texts seen on signs, menus and notices, with translations.

The packaged file ``harness/data/phrasebook.tsv`` is tab separated UTF-8 with the header
``id  category  en  es  de``. English is ASCII; Spanish is always present; German may be empty
when no confident translation was written (``PhraseEntry.de`` is then ``None``). The synthetic
scene generator draws its texts and reference translations from it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from harness.errors import ConfigError, DataMissing

__all__ = ["COLUMNS", "PhraseEntry", "load_phrasebook"]

COLUMNS = ("id", "category", "en", "es", "de")
_REQUIRED = ("id", "category", "en", "es")


@dataclass(frozen=True)
class PhraseEntry:
    """One sign text and its translations; ``de`` is None where the phrasebook has none."""

    id: str
    category: str
    en: str
    es: str
    de: str | None = None

    def translation(self, lang: str) -> str | None:
        """The translation into ``lang`` ("es" or "de"), or None when the entry lacks it."""
        if lang not in ("es", "de"):
            raise ConfigError(f"no phrasebook column for target language {lang!r}; use 'es' or 'de'")
        return self.es if lang == "es" else self.de


def load_phrasebook(path: Path | None = None) -> tuple[PhraseEntry, ...]:
    """Read and validate a phrasebook TSV (default: the packaged one), entries in file order."""
    if path is None:
        return _packaged_phrasebook()
    return _load(Path(path))


@functools.cache
def _packaged_phrasebook() -> tuple[PhraseEntry, ...]:
    with resources.as_file(resources.files("harness.data") / "phrasebook.tsv") as path:
        return _load(path)


def _load(path: Path) -> tuple[PhraseEntry, ...]:
    if not path.is_file():
        raise DataMissing(f"phrasebook not found: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    _check_header(path, lines[0] if lines else "")
    entries: list[PhraseEntry] = []
    seen: set[str] = set()
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        entry = _parse_row(path, number, line)
        if entry.id in seen:
            raise ConfigError(f"{path}:{number}: duplicate phrase id {entry.id!r}")
        seen.add(entry.id)
        entries.append(entry)
    if not entries:
        raise ConfigError(f"{path}: phrasebook has no entries")
    return tuple(entries)


def _check_header(path: Path, header: str) -> None:
    if tuple(header.split("\t")) != COLUMNS:
        expected = "\\t".join(COLUMNS)
        raise ConfigError(f"{path}:1: phrasebook header must be {expected!r}, found {header!r}")


def _parse_row(path: Path, number: int, line: str) -> PhraseEntry:
    fields = [field.strip() for field in line.split("\t")]
    if len(fields) != len(COLUMNS):
        raise ConfigError(f"{path}:{number}: expected {len(COLUMNS)} tab-separated columns, found {len(fields)}")
    row = dict(zip(COLUMNS, fields, strict=True))
    missing = [name for name in _REQUIRED if not row[name]]
    if missing:
        raise ConfigError(f"{path}:{number}: empty column(s) {', '.join(missing)}")
    return PhraseEntry(row["id"], row["category"], row["en"], row["es"], row["de"] or None)
