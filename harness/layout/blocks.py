"""Sign blocks: recognized lines grouped as a reader groups them, so a sign is translated as one segment.

A two-line sign ("Next" over "train") read line by line is two segments to a translator ("Luego" /
"Tren"); as one block it is one phrase ("Tren próximo"). ``group`` puts regions in one block when they
sit on one line (overlapping across the text by half a line height) at most ``word_gap`` line heights
apart, or are stacked lines of one sign: close (the gap between them at most ``line_gap`` line heights),
of similar font height (at most ``height_ratio`` apart) and overlapping along the text direction; both
at a similar angle. Blocks come in reading order (top to bottom, then left to
right), their lines top to bottom and each line's pieces left to right.

``split`` maps a block's translation back onto its lines for the overlay: the translated words are
shared out in order, in proportion to each line's share of the source characters.

Geometry is measured in the frame of the first region's text direction, so tilted and rotated signs
group as upright ones do. The constants were chosen on synthetic signs of seeds no report uses and on
``icdar2015_incidental_tune150`` (docs/mt.md, "Sign blocks").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.types import TextRegion

__all__ = ["BlockOptions", "group", "split"]


@dataclass(frozen=True)
class BlockOptions:
    """When two regions belong to one block (see the module docstring); lengths are in line heights."""

    line_gap: float = 0.8
    word_gap: float = 1.5
    height_ratio: float = 2.0
    max_angle_deg: float = 12.0
    min_overlap: float = 0.3  # stacked lines: overlap along the text, as a share of the shorter line


@dataclass(frozen=True)
class _Box:
    direction: np.ndarray  # unit vector along the text
    points: np.ndarray  # 4x2 corners
    height: float
    angle: float


def _box(region: TextRegion) -> _Box:
    p = np.asarray(region.quad, dtype=float)
    along = (p[1] - p[0]) + (p[2] - p[3])
    length = float(np.hypot(*along))
    direction = along / length if length > 0 else np.array([1.0, 0.0])
    height = float((np.hypot(*(p[3] - p[0])) + np.hypot(*(p[2] - p[1]))) / 2)
    return _Box(direction, p, max(height, 1.0), math.degrees(math.atan2(direction[1], direction[0])))


def _interval(points: np.ndarray, axis: np.ndarray) -> tuple[float, float]:
    values = points @ axis
    return float(values.min()), float(values.max())


def _together(a: _Box, b: _Box, options: BlockOptions) -> bool:
    """Whether ``a`` and ``b`` are pieces of one line or stacked lines of one sign."""
    turn = abs((a.angle - b.angle + 180) % 360 - 180)
    if turn > options.max_angle_deg:
        return False
    along, across = a.direction, np.array([-a.direction[1], a.direction[0]])
    (a0, a1), (b0, b1) = _interval(a.points, along), _interval(b.points, along)
    (c0, c1), (d0, d1) = _interval(a.points, across), _interval(b.points, across)
    height = min(a.height, b.height)
    across_overlap = min(c1, d1) - max(c0, d0)
    along_overlap = min(a1, b1) - max(a0, b0)
    if across_overlap >= 0.5 * height:  # one line: a word gap apart at most
        return -along_overlap <= options.word_gap * height
    if max(a.height, b.height) > options.height_ratio * min(a.height, b.height):
        return False  # stacked lines of one sign share a font size
    stacked_gap = -across_overlap  # the space between the two lines
    shorter = min(a1 - a0, b1 - b0)
    return stacked_gap <= options.line_gap * max(a.height, b.height) and along_overlap >= options.min_overlap * shorter


def group(regions: list[TextRegion], options: BlockOptions | None = None) -> list[list[int]]:
    """Region indices in blocks, in reading order (every index once)."""
    options = options or BlockOptions()
    boxes = [_box(r) for r in regions]
    parent = list(range(len(regions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if root(i) != root(j) and (_together(boxes[i], boxes[j], options) or _together(boxes[j], boxes[i], options)):
                parent[root(j)] = root(i)
    members: dict[int, list[int]] = {}
    for i in range(len(regions)):
        members.setdefault(root(i), []).append(i)
    blocks = [_reading_order(indices, boxes) for indices in members.values()]
    return sorted(blocks, key=lambda block: _top_left(block, boxes))


def _reading_order(indices: list[int], boxes: list[_Box]) -> list[int]:
    """A block's regions line by line (top to bottom), each line left to right, in the block's own frame."""
    direction = boxes[indices[0]].direction
    across = np.array([-direction[1], direction[0]])
    centre = {i: boxes[i].points.mean(axis=0) for i in indices}
    lines: list[list[int]] = []
    for i in sorted(indices, key=lambda k: float(centre[k] @ across)):
        line = lines[-1] if lines else None
        if line is not None and abs(float((centre[i] - centre[line[0]]) @ across)) < 0.5 * boxes[line[0]].height:
            line.append(i)
        else:
            lines.append([i])
    return [i for line in lines for i in sorted(line, key=lambda k: float(centre[k] @ direction))]


def _top_left(block: list[int], boxes: list[_Box]) -> tuple[float, float]:
    corners = np.vstack([boxes[i].points for i in block])
    return float(corners[:, 1].min()), float(corners[:, 0].min())


def split(translation: str, sources: list[str]) -> list[str]:
    """A block's translation shared out over its lines: words in order, by each line's share of the source.

    Every word goes to exactly one line; joined with spaces, the pieces are the translation again.
    """
    if len(sources) == 1:
        return [translation]
    words = translation.split()
    weights = np.array([max(len(s.strip()), 1) for s in sources], dtype=float)
    bounds = np.cumsum(weights) / weights.sum()  # where each line's share ends, in (0, 1]
    pieces: list[list[str]] = [[] for _ in sources]
    total = sum(len(w) + 1 for w in words) or 1
    position = 0
    for word in words:
        middle = (position + len(word) / 2) / total
        pieces[min(int(np.searchsorted(bounds, middle, side="right")), len(sources) - 1)].append(word)
        position += len(word) + 1
    return [" ".join(p) for p in pieces]
