"""Text detection and end-to-end accuracy by the ICDAR 2015 Challenge 4 protocol (Robust Reading Competition).

This re-implements, with shapely polygons, the competition's official evaluation scripts (``rrc_evaluation``:
the IoU script of Task 4.1 "Text Localization" and the end-to-end script of Task 4.4 with
``WORD_SPOTTING=False``). Per frame:

1. Ground-truth words marked don't care (transcription ``###``, ``GroundTruthWord.dont_care``) are never
   matched and never counted.
2. A detection whose intersection with any don't-care region is more than 0.5 of the detection's own area is
   ignored: neither a hit nor a false alarm.
3. Matching is one-to-one and greedy in index order, not best-first: for each care GT word in order, the first
   unmatched, not-ignored detection (in the backend's output order) with IoU > 0.5 (strictly) is its match.
4. Counts: ``gt_care`` = GT words - don't care; ``det_care`` = detections - ignored; ``matched`` = pairs.
5. End to end: a matched pair is also a correct word when the transcriptions agree case-insensitively (both
   upper-cased), where the GT may lose one leading and/or one trailing character from ``!?.:,*"()·[]/'``
   (``transcription_match``). A wrongly read match still uses up its GT word and its detection.

A dataset's precision = sum(matched) / sum(det_care), recall = sum(matched) / sum(gt_care) and hmean (their
harmonic mean) come from counts summed over frames, as the official script's "method" figures do; the mean of
per-frame hmeans is a different, non-standard number. Record ``DetectionCounts`` per frame and add them up.

Choices where the official script is silent or differs in form, not in intent:

- Coordinates stay floats (the script truncates submitted points to integers; IC15 GT is integral anyway).
- Point order is free: the script rejects counter-clockwise submissions, shapely's areas do not care.
- A self-intersecting quad is repaired with ``shapely.make_valid`` (both lobes kept); a degenerate one has
  area 0 and matches nothing.
- Detected text is stripped of surrounding whitespace. It is compared as a whole, so a backend that reports
  lines ("OPEN DAILY") rather than words is scored against IC15's word boxes as lines: that is the protocol.
- Don't care is ``###`` only. The "word spotting" variant (``WORD_SPOTTING=True``), which also turns GT words
  shorter than 3 letters or holding digits or other symbols into don't care, is not implemented; the
  Strong/Weak/Generic lexicons of IC15 end to end are inputs to a method, not evaluation modes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from harness.types import GroundTruthWord, Quad, TextRegion

__all__ = [
    "IC15",
    "DetectionCounts",
    "FrameMatch",
    "Ic15Protocol",
    "Scores",
    "match_frame",
    "scores",
    "transcription_match",
]


@dataclass(frozen=True)
class Ic15Protocol:
    """Thresholds of the IC15 protocol: IoU for a match, share of a detection's area that makes it ignored."""

    iou_threshold: float = 0.5
    dont_care_area_threshold: float = 0.5
    special_characters: str = "!?.:,*\"()·[]/'"


IC15 = Ic15Protocol()


@dataclass(frozen=True)
class Scores:
    """Precision, recall and their harmonic mean, each in [0, 1]."""

    precision: float
    recall: float
    hmean: float


def scores(correct: int, gt_care: int, det_care: int) -> Scores:
    """Scores from summed counts, as the official script's method-level figures (an empty denominator gives 0)."""
    recall = correct / gt_care if gt_care else 0.0
    precision = correct / det_care if det_care else 0.0
    hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, hmean)


@dataclass(frozen=True)
class DetectionCounts:
    """One frame's (or, summed, a dataset's) counts: care GT words, care detections, matches, correct words."""

    gt_care: int = 0
    det_care: int = 0
    matched: int = 0
    e2e_correct: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(
            self.gt_care + other.gt_care,
            self.det_care + other.det_care,
            self.matched + other.matched,
            self.e2e_correct + other.e2e_correct,
        )

    @staticmethod
    def total(counts: Iterable[DetectionCounts]) -> DetectionCounts:
        """Sum of per-frame counts."""
        return sum(counts, DetectionCounts())

    def detection(self) -> Scores:
        """Detection precision / recall / hmean at IoU 0.5."""
        return scores(self.matched, self.gt_care, self.det_care)

    def end_to_end(self) -> Scores:
        """End-to-end precision / recall / hmean: matches whose transcription is also right."""
        return scores(self.e2e_correct, self.gt_care, self.det_care)


@dataclass(frozen=True)
class FrameMatch:
    """A frame's matching: its counts, the (GT index, detection index, text correct) pairs, ignored detections."""

    counts: DetectionCounts
    pairs: tuple[tuple[int, int, bool], ...]
    ignored: tuple[int, ...]


def transcription_match(truth: str, detected: str, special_characters: str = IC15.special_characters) -> bool:
    """The official end-to-end word test: equal ignoring case, the GT may drop one special first/last character."""
    gt, det = truth.upper(), detected.strip().upper()
    if gt == det:
        return True
    if not gt:
        return False
    head, tail = gt[0] in special_characters, gt[-1] in special_characters
    return (head and gt[1:] == det) or (tail and gt[:-1] == det) or (head and tail and gt[1:-1] == det)


def _polygons(quads: Sequence[Quad]) -> np.ndarray:
    """Shapely polygons for the quads; self-intersecting ones repaired so their areas are meaningful."""
    if not quads:
        return np.empty(0, dtype=object)
    polygons = shapely.polygons(np.asarray(quads, dtype=float).reshape(-1, 4, 2))
    invalid = ~shapely.is_valid(polygons)
    if invalid.any():
        polygons[invalid] = shapely.make_valid(polygons[invalid])
    return polygons


def _overlaps(truth: np.ndarray, detected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersection areas (GT x detections) and the IoU matrix; an empty union gives IoU 0."""
    inter = shapely.area(shapely.intersection(truth[:, None], detected[None, :]))
    union = shapely.area(truth)[:, None] + shapely.area(detected)[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return inter, iou


def _ignored(inter: np.ndarray, detected: np.ndarray, dont_care: np.ndarray, threshold: float) -> np.ndarray:
    """Detections covering more than ``threshold`` of their own area with one don't-care region."""
    if not dont_care.any():
        return np.zeros(len(detected), dtype=bool)
    area = shapely.area(detected)
    share = np.divide(inter[dont_care], area[None, :], out=np.zeros_like(inter[dont_care]), where=area[None, :] > 0)
    return (share > threshold).any(axis=0)


def match_frame(words: Sequence[GroundTruthWord], regions: Sequence[TextRegion], protocol: Ic15Protocol = IC15) -> FrameMatch:
    """Match one frame's detected regions against its ground-truth words by the IC15 protocol."""
    dont_care = np.array([w.dont_care for w in words], dtype=bool)
    if not words or not regions:
        counts = DetectionCounts(int((~dont_care).sum()), len(regions), 0, 0)
        return FrameMatch(counts, (), ())
    truth, detected = _polygons([w.quad for w in words]), _polygons([r.quad for r in regions])
    inter, iou = _overlaps(truth, detected)
    ignored = _ignored(inter, detected, dont_care, protocol.dont_care_area_threshold)
    taken = ignored.copy()
    pairs: list[tuple[int, int, bool]] = []
    for g in np.flatnonzero(~dont_care):
        free = np.flatnonzero(~taken & (iou[g] > protocol.iou_threshold))
        if free.size:
            d = int(free[0])
            taken[d] = True
            pairs.append((int(g), d, transcription_match(words[g].text, regions[d].text, protocol.special_characters)))
    counts = DetectionCounts(int((~dont_care).sum()), int((~ignored).sum()), len(pairs), sum(ok for _, _, ok in pairs))
    return FrameMatch(counts, tuple(pairs), tuple(int(i) for i in np.flatnonzero(ignored)))
