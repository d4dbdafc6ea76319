"""What the AR mode is scored on, per displayed frame: drift, staleness and time to first translation.

Ground truth gives word quads per frame but no identity across frames, so ``TruthWords`` gives each
truth word a persistent id by following it from every source frame to the next (same text, nearest
centre within ``max_jump_frac`` of the frame width). It sees every frame the camera delivered, dropped
ones included (the pipeline's ``observe`` taps the source), so identities hold even when the pipeline
processes one frame in sixty.

- drift: a shown region is tied at its keyframe to the truth words whose centres lie inside its OCR quad;
  on every displayed frame its IoU is taken against the convex hull of those words' current quads
  (``quad_iou``). A region whose words have all left the view scores 0 while it is still shown inside it.
- time to first translation: a truth word becomes *visible* at the first frame where it is legible
  (wholly in view, not hidden); it is *served* at the end of the first overlay that draws a translated
  region over its centre. Words that leave the view unserved are counted as missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from harness.types import GroundTruth

__all__ = ["TruthWords", "quad_iou", "words_inside"]


def _convex(points: np.ndarray) -> np.ndarray:
    return cv2.convexHull(points.reshape(-1, 1, 2).astype(np.float32))


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex polygons (N x 2 corner arrays; hulls are taken)."""
    pa, pb = _convex(np.asarray(a)), _convex(np.asarray(b))
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    union = cv2.contourArea(pa) + cv2.contourArea(pb) - inter
    return float(inter / union) if union > 0 else 0.0


def _centre(quad: np.ndarray) -> np.ndarray:
    return np.asarray(quad, float).reshape(4, 2).mean(axis=0)


def words_inside(quad: np.ndarray, centres: dict[int, np.ndarray]) -> list[int]:
    """Ids of the words whose centres lie inside ``quad``."""
    contour = _convex(np.asarray(quad))
    return [wid for wid, c in centres.items() if cv2.pointPolygonTest(contour, (float(c[0]), float(c[1])), False) >= 0]


@dataclass
class _Word:
    text: str
    quad: np.ndarray
    legible: bool


@dataclass
class TruthWords:
    """Truth words with ids that persist across frames, and their first-visible / first-served times."""

    frame_width_px: float = 640.0
    max_jump_frac: float = 0.2
    current: dict[int, _Word] = field(default_factory=dict)
    visible_since_ns: dict[int, int] = field(default_factory=dict)  # legible, not yet served
    ttft_ns: list[int] = field(default_factory=list)  # new samples since the last ``take``
    missed: int = 0  # became legible and left the view without being served
    served: set[int] = field(default_factory=set)
    _next_id: int = 0

    def feed(self, truth: GroundTruth | None, arrival_ns: int) -> None:
        """The truth of the next camera frame (every frame, in order), arrived at ``arrival_ns``."""
        words = [] if truth is None else list(truth.words)
        previous, self.current = self.current, {}
        unused = dict(previous)
        for word in words:
            wid = self._match(word.text, _centre(np.array(word.quad)), unused)
            unused.pop(wid, None)
            self.current[wid] = _Word(word.text, np.array(word.quad, float), not word.dont_care)
            if not word.dont_care and wid not in self.served and wid not in self.visible_since_ns:
                self.visible_since_ns[wid] = arrival_ns
        for wid in unused:  # left the view
            if self.visible_since_ns.pop(wid, None) is not None:
                self.missed += 1

    def _match(self, text: str, centre: np.ndarray, candidates: dict[int, _Word]) -> int:
        key = text.casefold()
        best, best_distance = None, self.max_jump_frac * self.frame_width_px
        for wid, word in candidates.items():
            distance = float(np.linalg.norm(_centre(word.quad) - centre))
            if word.text.casefold() == key and distance < best_distance:
                best, best_distance = wid, distance
        if best is None:
            best, self._next_id = self._next_id, self._next_id + 1
        return best

    def centres(self) -> dict[int, np.ndarray]:
        """Current centre of every word in view."""
        return {wid: _centre(w.quad) for wid, w in self.current.items()}

    def reference_quad(self, word_ids: Sequence[int]) -> np.ndarray | None:
        """Convex hull of the listed words' current quads; None when none of them is in view."""
        quads = [self.current[w].quad for w in word_ids if w in self.current]
        return np.concatenate(quads).reshape(-1, 2) if quads else None

    def serve(self, quads: Sequence[np.ndarray], shown_ns: int) -> None:
        """The overlay that ended at ``shown_ns`` drew translations over ``quads``."""
        centres = {wid: c for wid, c in self.centres().items() if wid in self.visible_since_ns}
        for quad in quads:
            for wid in words_inside(quad, centres):
                if wid in self.visible_since_ns:
                    self.ttft_ns.append(shown_ns - self.visible_since_ns.pop(wid))
                    self.served.add(wid)

    def take(self) -> tuple[list[int], int]:
        """Time-to-first-translation samples and missed words since the last call."""
        samples, missed = self.ttft_ns, self.missed
        self.ttft_ns, self.missed = [], 0
        return samples, missed
