"""Word-crop recognition accuracy as scene-text recognition papers report it (IC15 word crops, IIIT5K).

The standard 36-class protocol compares case-insensitive alphanumerics: prediction and label are lower-cased
and everything outside ``[0-9a-z]`` (spaces, punctuation, accented letters) is dropped before comparing.

- Word accuracy: share of scored words whose normalized prediction equals the normalized label.
- CER: Levenshtein distance (rapidfuzz) over the normalized label's length. ``RecognitionCounts.cer`` is the
  dataset figure, total edits over total label characters; ``mean_word_cer`` is the mean of per-word CERs.
  A word's CER can exceed 1 when the prediction is longer than the label.
- Labels with no alphanumeric character left after normalization cannot be scored under the 36-class
  protocol: they are skipped and counted in ``skipped`` (none occur in IC15-2077 or IIIT5K-1000).

This is the full-set protocol (every IC15-2077 crop, every IIIT5K test crop we hold), not the filtered IC15-1811 subset,
which drops crops with non-alphanumeric labels and hand-picked distorted crops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

__all__ = ["RecognitionCounts", "is_scored", "normalize_alnum", "word_cer", "word_correct"]

_OUTSIDE_36_CLASSES = re.compile(r"[^0-9a-z]+")


def normalize_alnum(text: str) -> str:
    """Lower-cased text with only the characters ``[0-9a-z]`` kept."""
    return _OUTSIDE_36_CLASSES.sub("", text.lower())


def is_scored(label: str) -> bool:
    """Whether a label counts under the protocol: it holds at least one alphanumeric character."""
    return bool(normalize_alnum(label))


def word_correct(pred: str, label: str) -> bool:
    """Whether the prediction reads the label, case-insensitive alphanumeric."""
    return normalize_alnum(pred) == normalize_alnum(label)


def word_cer(pred: str, label: str) -> float:
    """Edit distance over the label's length, both normalized; an unscored label gives 0 (empty pred) or 1."""
    hyp, ref = normalize_alnum(pred), normalize_alnum(label)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(hyp, ref) / len(ref)


@dataclass(frozen=True)
class RecognitionCounts:
    """Recognition tallies over word crops; make one per crop with ``of`` and add them up.

    ``words``: scored labels; ``correct``: of those, read right; ``skipped``: labels with no alphanumerics;
    ``edits`` / ``label_chars``: Levenshtein distance and normalized label length summed over scored words;
    ``word_cer_sum``: per-word CERs summed.
    """

    words: int = 0
    correct: int = 0
    skipped: int = 0
    edits: int = 0
    label_chars: int = 0
    word_cer_sum: float = 0.0

    @classmethod
    def of(cls, pred: str, label: str) -> RecognitionCounts:
        """Counts for one crop's prediction against its label."""
        hyp, ref = normalize_alnum(pred), normalize_alnum(label)
        if not ref:
            return cls(skipped=1)
        edits = Levenshtein.distance(hyp, ref)
        return cls(1, int(hyp == ref), 0, edits, len(ref), edits / len(ref))

    @staticmethod
    def total(counts: Iterable[RecognitionCounts]) -> RecognitionCounts:
        """Sum of per-crop counts."""
        return sum(counts, RecognitionCounts())

    def __add__(self, other: RecognitionCounts) -> RecognitionCounts:
        return RecognitionCounts(
            self.words + other.words,
            self.correct + other.correct,
            self.skipped + other.skipped,
            self.edits + other.edits,
            self.label_chars + other.label_chars,
            self.word_cer_sum + other.word_cer_sum,
        )

    @property
    def accuracy(self) -> float | None:
        """Word accuracy in [0, 1]; None when no word was scored."""
        return self.correct / self.words if self.words else None

    @property
    def cer(self) -> float | None:
        """Total edits over total normalized label characters; None when no word was scored."""
        return self.edits / self.label_chars if self.label_chars else None

    @property
    def mean_word_cer(self) -> float | None:
        """Mean of per-word CERs; None when no word was scored."""
        return self.word_cer_sum / self.words if self.words else None
