"""Translations reused across keyframes: by region identity first, then by normalized text.

A keyframe's OCR regions are compared with the regions that were being tracked when the keyframe was
taken (same frame, so same coordinates): a region that overlaps one of them (IoU >= ``min_iou``) and reads
the same text (``cache_key``: case and spacing ignored) is that sign again and keeps its translation and
its track id: a tracked sign is never re-translated. A sign read differently this time (closer, sharper,
or misread) is translated again: keeping the first reading would freeze its errors (measured: walking
towards a sign, the far reading "Donotuselift" would stay on show). Other texts go through
``harness.mt.cache.TranslationCache`` (normalized text, entries expire after ``max_age`` keyframes), and
only what is left reaches the MT backend, in one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.ar.metrics import quad_iou
from harness.mt.cache import TranslationCache, cache_key
from harness.types import TextRegion

__all__ = ["KnownRegion", "Reuse", "ReuseStats"]


@dataclass(frozen=True)
class KnownRegion:
    """A region tracked when a keyframe was taken: its quad in that frame, its text, translation and id."""

    quad: np.ndarray
    text: str
    target: str
    track_id: int


@dataclass(frozen=True)
class ReuseStats:
    """Where one keyframe's translations came from (``lookups`` = regions)."""

    lookups: int
    identity_hits: int
    text_hits: int
    translated: int

    def attrs(self) -> dict[str, int]:
        """As span attributes; ``cache_hits`` / ``cache_lookups`` as the plain pipeline's mt span has them."""
        hits = self.identity_hits + self.text_hits
        return {"cache_lookups": self.lookups, "cache_hits": hits, "identity_hits": self.identity_hits, "texts_translated": self.translated}


class Reuse:
    """The AR mode's translation memory."""

    def __init__(self, max_age: int, min_iou: float = 0.3) -> None:
        self.text_cache = TranslationCache(max_age)
        self.min_iou = min_iou

    def translate(
        self, regions: Sequence[TextRegion], known: Sequence[KnownRegion], translate: Callable[[list[str]], list[str]]
    ) -> tuple[list[str], list[int | None], ReuseStats]:
        """A target per region, the known track id it continues (None: a new sign), and the counts."""
        self.text_cache.next_frame()
        matches = [self._same_sign(region, known) for region in regions]
        rest = [i for i, m in enumerate(matches) if m is None]
        fresh: list[str] = []
        text_hits = 0
        if rest:
            fresh, text_hits = self.text_cache.translate([regions[i].text for i in rest], translate)
        targets = [m.target if m is not None else "" for m in matches]
        for i, target in zip(rest, fresh, strict=True):
            targets[i] = target
        ids = [m.track_id if m is not None else None for m in matches]
        identity = len(regions) - len(rest)
        return targets, ids, ReuseStats(len(regions), identity, text_hits, len(rest) - text_hits)

    def _same_sign(self, region: TextRegion, known: Sequence[KnownRegion]) -> KnownRegion | None:
        quad, key = np.array(region.quad, float), cache_key(region.text)
        best, best_iou = None, self.min_iou
        for candidate in known:
            iou = quad_iou(quad, candidate.quad)
            if iou >= best_iou and key == cache_key(candidate.text):
                best, best_iou = candidate, iou
        return best
