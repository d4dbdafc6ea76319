"""Decontamination of NMT training text against every evaluation set: exact and near-duplicate matches.

A training string is contaminated when, after ``normalize_for_match`` (case-folded, punctuation and symbols
removed, spaces collapsed):

- it equals a line of an evaluation set (``exact``), or
- it has at least ``NEAR_MIN_WORDS`` words and shares at least ``NEAR_SHARE`` of its word trigrams with one
  evaluation line that is itself that long, measured against the shorter of the two (``near``: a test
  sentence with a word changed, a sentence inside a longer string, or the reverse).

Short strings (signs, menu items) are matched exactly only: "Exit" in a UI catalog is not a copy of a
test sign, but it is the same string and is removed. The evaluation sets: Tatoeba en–es, FLORES-101
devtest, newstest2013 (both sides of each) and every cell of the sign phrasebook; ``evaluation_files``
names them so a manifest can record their sha256.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.models.recipes.nmt.mocatalog import normalize_for_match
from harness.paths import data_root, project_root
from harness.sources.phrasebook import load_phrasebook

__all__ = ["EVAL_FILES", "Decontaminator", "evaluation_files", "evaluation_lines"]

NEAR_MIN_WORDS = 6
NEAR_SHARE = 0.5
EVAL_FILES = (
    "tatoeba_test_v2021-08-07/eng-spa.eng",
    "tatoeba_test_v2021-08-07/eng-spa.spa",
    "flores101_devtest/eng.devtest",
    "flores101_devtest/spa.devtest",
    "wmt_newstest2013/newstest2013.eng",
    "wmt_newstest2013/newstest2013.spa",
)
PHRASEBOOK = "harness/data/phrasebook.tsv"


def evaluation_files(root: Path | None = None) -> list[Path]:
    """Every evaluation file decontamination reads: the shared data's test sets and the phrasebook."""
    root = root or data_root()
    return [root / name for name in EVAL_FILES] + [project_root() / PHRASEBOOK]


def evaluation_lines(files: Iterable[Path]) -> list[str]:
    """The lines of the evaluation files (the phrasebook: its English, Spanish and German texts)."""
    lines: list[str] = []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"evaluation file {path} missing: set ARBENCH_DATA_ROOT to the shared data folder")
        if path.suffix == ".tsv":
            lines += [text for entry in load_phrasebook(path) for text in (entry.en, entry.es, entry.de) if text]
        else:
            lines += path.read_text(encoding="utf-8").splitlines()
    return lines


def _trigrams(words: list[str]) -> set[tuple[str, str, str]]:
    return {(words[i], words[i + 1], words[i + 2]) for i in range(len(words) - 2)}


@dataclass
class Decontaminator:
    """The evaluation lines' keys, indexed for exact and near-duplicate lookup."""

    exact: set[str] = field(default_factory=set)
    _index: dict[tuple[str, str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    _sizes: list[int] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_files(cls, files: Iterable[Path]) -> Decontaminator:
        files = list(files)
        found = cls.from_lines(evaluation_lines(files))
        found.sha256 = {str(path.name): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
        return found

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Decontaminator:
        found = cls()
        for line in lines:
            key = normalize_for_match(line)
            if not key:
                continue
            found.exact.add(key)
            words = key.split()
            if len(words) >= NEAR_MIN_WORDS:
                grams = _trigrams(words)
                for gram in grams:
                    found._index[gram].append(len(found._sizes))
                found._sizes.append(len(grams))
        return found

    def match(self, text: str) -> str | None:
        """``"exact"`` or ``"near"`` when ``text`` matches an evaluation line, else None."""
        key = normalize_for_match(text)
        if key in self.exact:
            return "exact"
        words = key.split()
        if len(words) < NEAR_MIN_WORDS:
            return None
        grams = _trigrams(words)
        shared: dict[int, int] = defaultdict(int)
        for gram in grams:
            for line in self._index.get(gram, ()):
                shared[line] += 1
        for line, count in shared.items():
            if count >= NEAR_SHARE * min(len(grams), self._sizes[line]):
                return "near"
        return None

    def pair_match(self, en: str, es: str) -> str | None:
        """The first match of either side of a pair."""
        return self.match(en) or self.match(es)
