"""Fit a translation into a text box.

Pick the word wrap (1-3 lines) and the largest font that fits, then rasterize it with Pillow as an
8-bit coverage mask the size of the box.

Sizes are pixels. Fitting uses the glyphs' ink boxes, not the font's line boxes, so translated text fills
its box as tightly as the source text filled the detected quad.
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from harness.errors import ConfigError, DataMissing

__all__ = ["FontCache", "TextLayout", "fit_text", "render_alpha", "resolve_font_path"]

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
DEFAULT_FONT_NAMES = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf")
MAX_LINES = 3
_REF_FONT_PX = 100  # text is measured once at this size, then scaled: ink extents are ~linear in size
_PAD_FRACTION = 0.08  # of the box's shorter side, kept free on every side
_MIN_LINE_EM = 0.72  # a line is never given less than this many ems of height (~cap height), so
# ink-short text such as "-" or "ace" does not balloon to fill the box


def resolve_font_path(font_path: str | None) -> Path:
    """The font file to use: ``font_path`` if given, else the first DejaVu Sans font installed."""
    if font_path is not None:
        path = Path(font_path)
        if not path.is_file():
            raise DataMissing(f"overlay font_path {font_path!r} does not exist; point it at a .ttf file")
        return path
    for name in DEFAULT_FONT_NAMES:
        path = DEFAULT_FONT_DIR / name
        if path.is_file():
            return path
    raise DataMissing(
        f"no overlay font: none of {', '.join(DEFAULT_FONT_NAMES)} under {DEFAULT_FONT_DIR}; "
        "install them with `apt-get install fonts-dejavu-core` or set overlay font_path"
    )


class FontCache:
    """One font file read once, with a Pillow font object per pixel size built on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data = path.read_bytes()
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        try:
            self.get(_REF_FONT_PX)
        except OSError as exc:
            raise ConfigError(f"overlay font_path {str(path)!r} is not a TrueType/OpenType font: {exc}") from exc

    def get(self, size_px: int) -> ImageFont.FreeTypeFont:
        """The font at ``size_px`` pixels per em."""
        font = self._fonts.get(size_px)
        if font is None:
            font = ImageFont.truetype(io.BytesIO(self._data), size_px)
            self._fonts[size_px] = font
        return font


@dataclass(frozen=True)
class _Block:
    """Ink extents of lines stacked at one font size; coordinates relative to the first baseline."""

    line_boxes: tuple[tuple[int, int, int, int], ...]  # per line (left, top, right, bottom), anchor "ls"
    pitch_px: int  # baseline-to-baseline distance
    top_px: int
    bottom_px: int
    width_px: int

    @property
    def height_px(self) -> int:
        """Ink height of the whole block."""
        return self.bottom_px - self.top_px


@dataclass(frozen=True)
class TextLayout:
    """Wrapped lines, the font size chosen for them and their measured ink block."""

    lines: tuple[str, ...]
    font_px: int
    block: _Block


def _measure(lines: tuple[str, ...], font: ImageFont.FreeTypeFont) -> _Block:
    ascent, descent = font.getmetrics()
    pitch = ascent + descent
    boxes = tuple(font.getbbox(line, anchor="ls") for line in lines)
    top = min(i * pitch + box[1] for i, box in enumerate(boxes))
    bottom = max(i * pitch + box[3] for i, box in enumerate(boxes))
    width = max(box[2] - box[0] for box in boxes)
    return _Block(boxes, pitch, top, bottom, width)


def _fits(block: _Block, avail_w_px: float, avail_h_px: float) -> bool:
    return block.width_px <= avail_w_px and block.height_px <= avail_h_px


def _balanced_wrap(words: list[str], widths: list[float], space: float, n_lines: int) -> tuple[str, ...]:
    """Split ``words`` (advance ``widths``) into ``n_lines`` lines so the widest line is narrowest."""
    prefix = list(itertools.accumulate(widths, initial=0.0))

    def widest(cuts: tuple[int, ...]) -> float:
        bounds = (0, *cuts, len(words))
        return max(prefix[b] - prefix[a] + space * (b - a - 1) for a, b in itertools.pairwise(bounds))

    best = min(itertools.combinations(range(1, len(words)), n_lines - 1), key=widest)
    bounds = (0, *best, len(words))
    return tuple(" ".join(words[a:b]) for a, b in itertools.pairwise(bounds))


def _fit_lines(lines: tuple[str, ...], fonts: FontCache, avail_w: float, avail_h: float, beat_px: int) -> TextLayout | None:
    """Lay out ``lines`` at the largest font size (>= 1) that fits the available box.

    Returns None if that size cannot beat ``beat_px`` (so losing candidates cost one measurement, or none).
    """
    size = math.floor(avail_h / (len(lines) * _MIN_LINE_EM))
    if size > beat_px:
        ref = _measure(lines, fonts.get(_REF_FONT_PX))
        scale = min(avail_w / max(ref.width_px, 1), avail_h / max(ref.height_px, 1))
        size = min(size, math.floor(_REF_FONT_PX * scale))
    while size > max(beat_px, 0):
        block = _measure(lines, fonts.get(size))
        if size == 1 or _fits(block, avail_w, avail_h):
            return TextLayout(lines, size, block)
        # Hinting makes ink extents slightly non-linear in size: step down until it really fits.
        size -= max(1, size // 32)
    return None


def fit_text(text: str, box_w_px: int, box_h_px: int, fonts: FontCache, min_font_px: int) -> TextLayout | None:
    """The 1-3 line layout of ``text`` with the largest font that fits the box; None for blank text.

    If even ``min_font_px`` does not fit, the best layout is returned at ``min_font_px`` and the
    rendering is clipped by the box.
    """
    words = text.split()
    if not words:
        return None
    pad = max(1.0, _PAD_FRACTION * min(box_w_px, box_h_px))
    avail_w, avail_h = box_w_px - 2 * pad, box_h_px - 2 * pad
    ref_font = fonts.get(_REF_FONT_PX)
    widths = [ref_font.getlength(word) for word in words]
    best: TextLayout | None = None
    for n_lines in range(1, min(MAX_LINES, len(words)) + 1):
        lines = _balanced_wrap(words, widths, ref_font.getlength(" "), n_lines)
        # Strictly larger only: on a tie, fewer lines read better.
        best = _fit_lines(lines, fonts, avail_w, avail_h, best.font_px if best else 0) or best
    if best is None:  # the box is too small for even 1 px text
        best = TextLayout((" ".join(words),), 1, _measure((" ".join(words),), fonts.get(1)))
    if best.font_px < min_font_px:
        best = TextLayout(best.lines, min_font_px, _measure(best.lines, fonts.get(min_font_px)))
    return best


def render_alpha(layout: TextLayout, fonts: FontCache, box_w_px: int, box_h_px: int) -> np.ndarray:
    """Rasterize ``layout`` centred in a ``box_h_px`` x ``box_w_px`` uint8 coverage mask (255 = ink).

    Text is one colour, so coverage is the RGBA canvas's alpha channel and the colour is applied when
    compositing; rendering and warping one channel instead of four is cheaper.
    """
    canvas = Image.new("L", (box_w_px, box_h_px), 0)
    draw = ImageDraw.Draw(canvas)
    font = fonts.get(layout.font_px)
    block = layout.block
    first_baseline = (box_h_px - block.height_px) / 2 - block.top_px
    for i, (line, box) in enumerate(zip(layout.lines, block.line_boxes, strict=True)):
        x = box_w_px / 2 - (box[0] + box[2]) / 2
        draw.text((x, first_baseline + i * block.pitch_px), line, font=font, fill=255, anchor="ls")
    return np.asarray(canvas)
