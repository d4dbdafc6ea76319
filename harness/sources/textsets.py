"""Sentence sets for MT-only runs (FLORES-101 devtest, Tatoeba, WMT newstest2013, the sign phrasebook) as a text source.

Each set is plain UTF-8, one sentence per line, with line N of one language's file the translation of line N
of the other's. FLORES-101 and newstest2013 are multi-parallel over eng/spa/deu/fra, so any two of them make
a pair; Tatoeba ships separate line-aligned pairs (eng-spa, deu-eng, eng-fra), usable in either direction.
``phrasebook`` is the project's own sign phrasebook (harness/data/phrasebook.tsv, English with Spanish and
German): sign-length texts, one per frame, for per-sign MT latency. Frames carry the source sentence in
``Frame.text`` and no image.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError, DataMissing
from harness.paths import data_root
from harness.sources.base import SourceBase, opens
from harness.types import Frame, GroundTruth

__all__ = ["TEXT_SETS", "TextSet", "TextSetOptions", "TextSetSource", "directions", "load_text_pairs", "pair_files"]


@dataclass(frozen=True)
class TextSet:
    """Layout of one sentence set on disk.

    ``folder``: its default folder under the data root; ``pattern``: file names, where ``{group}`` is a
    group's languages joined by "-" and ``{lang}`` the file's language; ``groups``: sets of languages whose
    files are line-aligned with each other.
    """

    folder: str
    pattern: str
    groups: tuple[tuple[str, ...], ...]


TEXT_SETS: dict[str, TextSet] = {
    "flores101": TextSet("flores101_devtest", "{lang}.devtest", (("eng", "spa", "deu", "fra"),)),
    "tatoeba": TextSet("tatoeba_test_v2021-08-07", "{group}.{lang}", (("eng", "spa"), ("deu", "eng"), ("eng", "fra"))),
    "newstest2013": TextSet("wmt_newstest2013", "newstest2013.{lang}", (("eng", "spa", "deu", "fra"),)),
    "phrasebook": TextSet("", "", (("eng", "spa", "deu"),)),  # shipped with the package, not under the data root
}
PHRASEBOOK_COLUMNS = {"eng": "en", "spa": "es", "deu": "de"}


def directions(dataset: str) -> list[str]:
    """Every "src-tgt" direction a set supports, e.g. ["eng-spa", "spa-eng", …]."""
    return [f"{src}-{tgt}" for group in TEXT_SETS[dataset].groups for src in group for tgt in group if src != tgt]


@dataclass(frozen=True)
class TextSetOptions:
    """Options for a sentence-set source.

    ``dataset``: "flores101", "tatoeba", "newstest2013" or "phrasebook"; ``src``/``tgt``: ISO 639-3 codes (eng,
    spa, deu, fra) that the set pairs; ``root``: the set's folder (default: its folder under the data root; for
    the phrasebook, a phrasebook TSV instead of the shipped one);
    ``limit``: first N lines (0: all); ``loop``: start again after the last line.
    """

    dataset: str
    src: str = "eng"
    tgt: str = "spa"
    root: str | None = None
    limit: int = 0
    loop: bool = False

    def __post_init__(self) -> None:
        if self.dataset not in TEXT_SETS:
            raise ConfigError(f"unknown text set {self.dataset!r}; valid: {', '.join(TEXT_SETS)}")
        valid = directions(self.dataset)
        if f"{self.src}-{self.tgt}" not in valid:
            raise ConfigError(f"{self.dataset} has no {self.src}->{self.tgt} pair; valid src-tgt: {', '.join(valid)}")
        if self.limit < 0:
            raise ConfigError(f"text set limit must be >= 0 (0: all lines), not {self.limit}")


def _root(options: TextSetOptions) -> Path:
    return Path(options.root) if options.root else data_root() / TEXT_SETS[options.dataset].folder


def pair_files(options: TextSetOptions) -> tuple[Path, Path]:
    """The source-side and target-side files of the chosen direction."""
    spec = TEXT_SETS[options.dataset]
    group = next(g for g in spec.groups if options.src in g and options.tgt in g)
    root = _root(options)
    return tuple(root / spec.pattern.format(group="-".join(group), lang=lang) for lang in (options.src, options.tgt))  # type: ignore[return-value]


def _read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file split on LF only (sentences may hold other Unicode line separators)."""
    if not path.is_file():
        raise DataMissing(f"sentence file not found: {path}; set `root` or ARBENCH_DATA_ROOT")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataMissing(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _phrasebook_pairs(options: TextSetOptions) -> list[tuple[str, str]]:
    """(source, reference) of every phrasebook entry that has both languages, in file order."""
    from harness.sources.phrasebook import load_phrasebook

    entries = load_phrasebook(Path(options.root) if options.root else None)
    pairs = []
    for entry in entries:
        source, target = (entry.en if lang == "eng" else entry.translation(PHRASEBOOK_COLUMNS[lang]) for lang in (options.src, options.tgt))
        if source and target:
            pairs.append((source, target))
    return pairs


def load_text_pairs(options: TextSetOptions) -> list[tuple[str, str]]:
    """(source sentence, reference translation) pairs in file order, at most ``options.limit`` (0: all)."""
    if options.dataset == "phrasebook":
        return _phrasebook_pairs(options)[: options.limit or None]
    root = _root(options)
    if not root.is_dir():
        raise DataMissing(f"{options.dataset} folder not found: {root}; set `root` or ARBENCH_DATA_ROOT")
    src_path, tgt_path = pair_files(options)
    sources, targets = _read_lines(src_path), _read_lines(tgt_path)
    if len(sources) != len(targets):
        raise DataMissing(f"{src_path} has {len(sources)} lines but {tgt_path} has {len(targets)}; the files must be line-aligned")
    return list(zip(sources, targets, strict=True))[: options.limit or None]


class TextSetSource(SourceBase):
    """Sentences of one set and direction as text frames (``image`` None, ``text`` the source sentence)."""

    modality = "text"  # sentences, for MT-only runs

    def __init__(self, options: TextSetOptions, context: object = None) -> None:
        self.options = options
        self.name = f"{options.dataset}:{options.src}-{options.tgt}"
        self._pairs: list[tuple[str, str]] = []

    def open(self) -> None:
        self._pairs = load_text_pairs(self.options)

    def frames(self) -> Iterator[Frame]:
        frame_id = 0
        while True:
            for index, (source, reference) in enumerate(self._pairs):
                truth = GroundTruth(words=(), source_text=source, reference_translation=reference)
                yield Frame(frame_id, time.monotonic_ns(), None, self.name, f"line_{index:05d}", truth, text=source)
                frame_id += 1
            if not self.options.loop or not self._pairs:
                return

    def close(self) -> None:
        self._pairs = []


preflight = opens(TextSetSource)  # before a run: the files (or the camera) are there and open
