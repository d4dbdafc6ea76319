"""Word-level OCR errors: what a reader of the overlay sees, and what the translator is given.

The alphanumeric CER of ``harness.metrics.text`` drops spaces, so "Staffonly" for "Staff only" costs
nothing there, while a translator given "Staffonly" fails (Apertium: chrF 8.9 against 62.1 for the
correct read). These measures keep the spaces:

- ``spaced_cer``: character error rate on case-folded text without punctuation, words separated by one
  space (a merge or a split costs one edit);
- ``word_errors``: the word error counts of a frame. ``edits`` is the word-level Levenshtein distance
  (WER = edits / reference words), and the errors are sorted into a taxonomy:
  - ``merged``: a recognized word that is two or three consecutive reference words run together;
  - ``split``: a reference word recognized as two or three consecutive words;
  - then, on the sequence with merges and splits undone, ``substituted`` (a word read wrong), ``missed``
    (a reference word not read) and ``inserted`` (a word read that is not there).

Like the CER, both compare the frame's text in reading order with the reference text. On photos with
many words that mostly measures order (a ground-truth listing is not a reading order), so ``bag_edits``
counts word errors without order: the reference and recognized words as multisets, each word read
that is in the reference matched once, and the rest paired as substitutions, the surplus missed or
inserted: ``max(|ref|, |hyp|) - |ref ∩ hyp|``. A merge still costs two ("staffonly" matches neither
"staff" nor "only"), a split two, a misread one.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

__all__ = ["WordErrors", "spaced_cer", "word_errors", "words"]

_PUNCTUATION = re.compile(r"[^\w\s]|_", re.UNICODE)
_LONGEST_RUN = 3  # merges and splits of up to three words


def words(text: str) -> list[str]:
    """Case-folded words without punctuation ("Staff-only!" → ["staffonly"]; "Staff only" → ["staff", "only"])."""
    return _PUNCTUATION.sub("", text.casefold()).split()


def spaced_cer(hypothesis: str, reference: str) -> float:
    """Levenshtein distance over the reference length, on ``words`` joined by single spaces (1.0 if nothing matches)."""
    hyp, ref = " ".join(words(hypothesis)), " ".join(words(reference))
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(hyp, ref) / len(ref)


@dataclass(frozen=True)
class WordErrors:
    """One frame's word error counts (see the module docstring); all add up over frames."""

    reference: int
    edits: int
    merged: int
    split: int
    substituted: int
    missed: int
    inserted: int
    bag_edits: int

    def counts(self) -> dict[str, int]:
        """As frame-record accuracy keys (``word_*``), for summing over a configuration."""
        return {f"word_{name}": value for name, value in self.__dict__.items()}


def word_errors(hypothesis: str, reference: str) -> WordErrors:
    """The word errors of ``hypothesis`` against ``reference`` (both in reading order)."""
    hyp, ref = words(hypothesis), words(reference)
    edits = Levenshtein.distance(hyp, ref)
    repaired, merged = _undo_merges(hyp, ref)
    repaired, split = _undo_splits(repaired, ref)
    tags = [op.tag for op in Levenshtein.editops(repaired, ref)]
    common = sum((Counter(hyp) & Counter(ref)).values())
    bag = max(len(ref), len(hyp)) - common
    return WordErrors(len(ref), edits, merged, split, tags.count("replace"), tags.count("insert"), tags.count("delete"), bag)


def _runs(sequence: list[str]) -> dict[str, list[str]]:
    """Every concatenation of 2..3 consecutive words of ``sequence``, with the words it joins."""
    found: dict[str, list[str]] = {}
    for length in range(2, _LONGEST_RUN + 1):
        for start in range(len(sequence) - length + 1):
            found.setdefault("".join(sequence[start : start + length]), sequence[start : start + length])
    return found


def _undo_merges(hyp: list[str], ref: list[str]) -> tuple[list[str], int]:
    """``hyp`` with each word that is consecutive reference words run together replaced by those words."""
    runs, known = _runs(ref), set(ref)
    repaired: list[str] = []
    merged = 0
    for word in hyp:
        if word not in known and word in runs:
            repaired += runs[word]
            merged += 1
        else:
            repaired.append(word)
    return repaired, merged


def _undo_splits(hyp: list[str], ref: list[str]) -> tuple[list[str], int]:
    """``hyp`` with consecutive words that together are one reference word (read in pieces) joined."""
    wanted = set(ref) - set(hyp)
    repaired: list[str] = []
    split = index = 0
    while index < len(hyp):
        for length in range(_LONGEST_RUN, 1, -1):
            joined = "".join(hyp[index : index + length])
            if index + length <= len(hyp) and joined in wanted:
                repaired.append(joined)
                split += 1
                index += length
                break
        else:
            repaired.append(hyp[index])
            index += 1
    return repaired, split
