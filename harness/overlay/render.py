"""The AR overlay stage: erase each detected text quad and draw its translation in perspective.

``Overlay.render`` never modifies the frame it is given; it returns a new image plus its own timing
(inpainting and text rendering separately, in nanoseconds) so the stage can be measured or ablated.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from harness.errors import ConfigError
from harness.overlay.inpaint import INPAINT_METHODS, Box, inpaint_quads, padded_box, quad_size_px
from harness.overlay.text_fit import FontCache, fit_text, render_alpha, resolve_font_path
from harness.types import Quad, TextRegion

__all__ = ["Overlay", "OverlayOptions", "OverlayOutput"]

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_MIN_SIDE_PX = 2.0  # quads thinner or shorter than this are skipped
_BGR = tuple[int, int, int]


def _require_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"overlay {name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class OverlayOptions:
    """How translations are drawn over the frame."""

    inpaint: bool = True  # erase the source text first; off for ablations
    inpaint_method: str = "telea"  # "telea" | "ns" (OpenCV INPAINT_TELEA / INPAINT_NS)
    inpaint_radius_px: int = 3  # neighbourhood each inpainted pixel draws from (frame px; scaled with the work scale)
    mask_dilate_px: int = 2  # grow the quads so anti-aliased ink edges are erased too
    font_path: str | None = None  # None: DejaVuSans-Bold.ttf, else DejaVuSans.ttf, from fonts-dejavu-core
    min_font_px: int = 6  # never draw smaller; text that still does not fit is clipped
    text_color: str = "auto"  # "auto": black or white, whichever contrasts more; or "#rrggbb"

    def __post_init__(self) -> None:
        if not isinstance(self.inpaint, bool):
            raise ConfigError(f"overlay inpaint must be true or false, got {self.inpaint!r}")
        if self.inpaint_method not in INPAINT_METHODS:
            valid = " or ".join(repr(m) for m in INPAINT_METHODS)
            raise ConfigError(f"overlay inpaint_method must be {valid}, got {self.inpaint_method!r}")
        _require_int("inpaint_radius_px", self.inpaint_radius_px, 1)
        _require_int("mask_dilate_px", self.mask_dilate_px, 0)
        _require_int("min_font_px", self.min_font_px, 1)
        if self.font_path is not None and not isinstance(self.font_path, str):
            raise ConfigError(f"overlay font_path must be a path string or unset, got {self.font_path!r}")
        if not isinstance(self.text_color, str) or (self.text_color != "auto" and not _HEX_COLOR.fullmatch(self.text_color)):
            raise ConfigError(f"overlay text_color must be 'auto' or '#rrggbb', got {self.text_color!r}")


@dataclass(frozen=True)
class OverlayOutput:
    """The composited frame and what it cost."""

    image: np.ndarray  # BGR uint8, a new array
    inpaint_ns: int  # copying the frame and erasing the source text
    render_ns: int  # fitting, rasterizing, warping and compositing the translations
    regions_drawn: int  # regions whose translation was drawn (non-empty, usable quad)


def _quad_points(quad: Quad) -> np.ndarray | None:
    """The quad as 4 x 2 float32 corners clockwise from top-left, or None if it is degenerate."""
    pts = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    if not np.isfinite(pts).all():
        return None
    twice_area = float(np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1]))
    if twice_area < 0:  # counter-clockwise on screen: swap the neighbours of corner 0 so text is not mirrored
        pts = pts[[0, 3, 2, 1]]
    width, height = quad_size_px(pts)
    if width < _MIN_SIDE_PX or height < _MIN_SIDE_PX or abs(twice_area) < 2 * _MIN_SIDE_PX**2:
        return None
    return pts.astype(np.float32)


def _hex_to_bgr(color: str) -> _BGR:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return b, g, r


def _relative_luminance(bgr: Sequence[float]) -> float:
    """WCAG relative luminance (0 black .. 1 white) of one sRGB colour given as BGR 0-255."""
    c = np.asarray(bgr[:3], dtype=np.float64)[::-1] / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def _contrasting_bgr(background_bgr: Sequence[float]) -> _BGR:
    """Black or white, whichever has the higher WCAG contrast ratio against ``background_bgr``."""
    lum = _relative_luminance(background_bgr)
    return (0, 0, 0) if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else (255, 255, 255)


def _warp_into_box(alpha: np.ndarray, pts: np.ndarray, box: Box) -> np.ndarray:
    """Warp a coverage mask onto the quad, returned in ``box`` coordinates."""
    h, w = alpha.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = (pts - np.float32([box[0], box[1]])).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    size = (box[2] - box[0], box[3] - box[1])
    return cv2.warpPerspective(alpha, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)


def _blend(roi: np.ndarray, alpha: np.ndarray, color: _BGR) -> None:
    """Composite ``color`` over ``roi`` in place with coverage ``alpha`` (uint8, 255 = opaque)."""
    x, y, w, h = cv2.boundingRect(alpha)  # blend only where there is ink
    if w == 0 or h == 0:
        return
    sub = roi[y : y + h, x : x + w]
    weight = alpha[y : y + h, x : x + w].astype(np.float32) * np.float32(1 / 255)
    solid = np.empty_like(sub)
    solid[:] = color
    sub[:] = cv2.blendLinear(solid, sub, weight, 1 - weight)


class Overlay:
    """Draws translations over their source text; holds the font, loaded once per instance."""

    def __init__(self, options: OverlayOptions) -> None:
        self.options = options
        self._fonts = FontCache(resolve_font_path(options.font_path))
        self._fixed_color: _BGR | None = None if options.text_color == "auto" else _hex_to_bgr(options.text_color)

    def render(self, image: np.ndarray, regions: Sequence[TextRegion], targets: Sequence[str]) -> OverlayOutput:
        """A new frame with each region's source text erased and ``targets[i]`` drawn in its quad.

        Regions with degenerate quads are skipped; an empty target only erases its region.
        """
        if len(regions) != len(targets):
            raise ValueError(f"{len(regions)} regions but {len(targets)} target strings; they must pair up")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"overlay needs a BGR uint8 HxWx3 image, got {image.dtype} {image.shape}")
        start = time.perf_counter_ns()
        out = image.copy()
        quads = [_quad_points(region.quad) for region in regions]
        if self.options.inpaint:
            o = self.options
            usable = [q for q in quads if q is not None]
            inpaint_quads(out, usable, o.inpaint_method, o.inpaint_radius_px, o.mask_dilate_px)
        inpainted = time.perf_counter_ns()
        drawn = sum(self._draw(out, pts, text) for pts, text in zip(quads, targets, strict=True) if pts is not None)
        done = time.perf_counter_ns()
        return OverlayOutput(out, inpainted - start, done - inpainted, drawn)

    def _draw(self, out: np.ndarray, pts: np.ndarray, text: str) -> bool:
        """Draw ``text`` into the quad ``pts`` of ``out`` in place; False if there was nothing to draw."""
        height, width = out.shape[:2]
        box = padded_box(pts, 1, width, height)
        if box[2] <= box[0] or box[3] <= box[1]:
            return False  # quad lies entirely outside the frame
        box_w, box_h = (max(1, round(s)) for s in quad_size_px(pts))
        layout = fit_text(text, box_w, box_h, self._fonts, self.options.min_font_px)
        if layout is None:
            return False
        alpha = _warp_into_box(render_alpha(layout, self._fonts, box_w, box_h), pts, box)
        roi = out[box[1] : box[3], box[0] : box[2]]
        _blend(roi, alpha, self._text_color(roi, pts, box))
        return True

    def _text_color(self, roi: np.ndarray, pts: np.ndarray, box: Box) -> _BGR:
        if self._fixed_color is not None:
            return self._fixed_color
        inside = np.zeros(roi.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(pts - (box[0], box[1])).astype(np.int32)], 255)
        return _contrasting_bgr(cv2.mean(roi, mask=inside if inside.any() else None))
