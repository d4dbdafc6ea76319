"""Occluders for synthetic scenes and videos: a pole, a hand-like blob or a passing box in front of a sign.

An occluder is sized so that it hides a chosen share of the sign board's area (the ``occlusion_frac``
realism knob): its shape parameters are drawn from the generator, then its size is found by bisection
on the board's mask, so the coverage is met to within a fraction of a percent without further draws.
Shapes are large, smooth and plain (a shaded bar, skin-toned ellipses, a shaded rectangle), never
strokes that a detector could take for text. Colours are RGB; sizes end in ``_px``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["OCCLUDER_KINDS", "Occluder", "apply_occluder", "hidden_share", "make_occluder"]

OCCLUDER_KINDS = ("pole", "hand", "box")
_POLE_RGB = ((150, 152, 155), (32, 72, 48), (36, 36, 40), (120, 95, 70))
_SKIN_RGB = ((232, 186, 150), (205, 145, 110), (150, 95, 62), (98, 62, 42))
_BOX_RGB = ((184, 142, 94), (150, 118, 80), (70, 90, 120), (160, 160, 150), (120, 40, 40))

Polygon = np.ndarray  # Nx2 float, convex, pixel-centre image coordinates
Shape = Callable[[float], list[Polygon]]  # size in px -> convex polygons whose union is the occluder
Shading = Callable[[np.ndarray, np.ndarray, float], np.ndarray]  # (x grid, y grid, size) -> brightness


@dataclass(frozen=True)
class Occluder:
    """An object in front of the sign, stored as the window of the image it touches.

    ``rgb`` (hxwx3 float32, meaningful where ``alpha`` > 0) and ``alpha`` (hxw float32 in [0, 1]) cover
    the window whose top-left pixel is ``origin`` (x, y); ``board_coverage`` is the share of the board's
    pixels under ``alpha`` > 0.5.
    """

    kind: str
    origin: tuple[int, int]
    rgb: np.ndarray
    alpha: np.ndarray
    board_coverage: float

    def window(self) -> tuple[slice, slice]:
        """The (rows, columns) slices of the image the occluder covers."""
        (x0, y0), (h, w) = self.origin, self.alpha.shape
        return slice(y0, y0 + h), slice(x0, x0 + w)

    def full_alpha(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """The alpha as an image-sized HxW float32 array (zero outside the window)."""
        alpha = np.zeros(image_shape[:2], np.float32)
        alpha[self.window()] = self.alpha
        return alpha


def make_occluder(
    board_mask: np.ndarray,
    target_frac: float,
    rng: np.random.Generator,
    kinds: Sequence[str] = OCCLUDER_KINDS,
    soft_px: float = 1.0,
    mask_origin: tuple[int, int] = (0, 0),
    image_size: tuple[int, int] | None = None,
) -> Occluder:
    """An occluder hiding ``target_frac`` of the board, of a kind drawn from ``kinds``.

    ``board_mask`` (bool) is the board's pixels in a window of the image whose top-left is
    ``mask_origin`` (x, y); ``image_size`` (width, height) defaults to the mask's own size. ``soft_px``
    scales the blur of the occluder's edges (1 at scene resolution; larger on supersampled canvases).
    """
    width, height = image_size or (board_mask.shape[1], board_mask.shape[0])
    ys, xs = np.nonzero(board_mask)
    ox, oy = mask_origin
    box = (float(xs.min() + ox), float(ys.min() + oy), float(xs.max() + ox), float(ys.max() + oy))
    kind = kinds[int(rng.integers(len(kinds)))]
    shape, colour, shading = _SHAPES[kind](box, height, rng)
    tight = board_mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    size_px = _solve_size(shape, tight, (int(box[0]), int(box[1])), target_frac)
    polygons = shape(size_px)
    sigma = max(0.3, soft_px * (0.06 * size_px if kind == "hand" else 0.7))
    x0, y0, x1, y1 = _window(polygons, math.ceil(4 * sigma) + 2, (width, height))
    alpha = cv2.GaussianBlur(_raster(polygons, (y1 - y0, x1 - x0), True, (x0, y0)), (0, 0), sigma)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    rgb = np.clip(np.asarray(colour, np.float32) * shading(xx, yy, size_px)[..., None], 0, 255)
    return Occluder(kind, (x0, y0), rgb, alpha, _coverage(alpha, (x0, y0), board_mask, mask_origin))


def _coverage(alpha: np.ndarray, origin: tuple[int, int], board_mask: np.ndarray, mask_origin: tuple[int, int]) -> float:
    """Share of the board's pixels under alpha > 0.5, where the two windows overlap."""
    (ax, ay), (mx, my) = origin, mask_origin
    x0, y0 = max(ax, mx), max(ay, my)
    x1, y1 = min(ax + alpha.shape[1], mx + board_mask.shape[1]), min(ay + alpha.shape[0], my + board_mask.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    covered = (alpha[y0 - ay : y1 - ay, x0 - ax : x1 - ax] > 0.5) & board_mask[y0 - my : y1 - my, x0 - mx : x1 - mx]
    return float(np.count_nonzero(covered)) / max(1, int(np.count_nonzero(board_mask)))


def apply_occluder(image: np.ndarray, occluder: Occluder) -> None:
    """Blend the occluder into a uint8 HxWx3 image in place (RGB, as its colours are)."""
    window = occluder.window()
    alpha = occluder.alpha[..., None]
    blended = image[window].astype(np.float32) * (1 - alpha) + occluder.rgb * alpha
    image[window] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def hidden_share(alpha: np.ndarray, quad: np.ndarray) -> float:
    """Mean occluder alpha over a quad (4x2, pixel-centre coordinates): the share of the word hidden."""
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, alpha.shape[1]), min(y1, alpha.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round((quad - (x0, y0)) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    inside = mask.astype(bool)
    return float(alpha[y0:y1, x0:x1][inside].mean()) if inside.any() else 0.0


# --- sizing -----------------------------------------------------------------------------------------


def _raster(polygons: list[Polygon], shape: tuple[int, int], antialias: bool, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Fill the union of convex polygons into an HxW float32 mask (each polygon separately: no even-odd holes)."""
    mask = np.zeros(shape, np.float32)
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    for polygon in polygons:
        points = np.round((polygon - origin) * 16).astype(np.int32)
        cv2.fillConvexPoly(mask, points, 1.0, line, 4)
    return mask


def _window(polygons: list[Polygon], margin_px: int, image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The polygons' bounding box grown by ``margin_px`` and clipped to the image: x0, y0, x1, y1."""
    points = np.concatenate(polygons)
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - margin_px
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + margin_px + 1
    return max(int(x0), 0), max(int(y0), 0), min(int(x1), image_size[0]), min(int(y1), image_size[1])


def _solve_size(shape: Shape, board: np.ndarray, origin: tuple[int, int], target_frac: float) -> float:
    """The size at which the shape covers ``target_frac`` of the board (coverage grows with size).

    ``board`` is the board's mask cropped to its bounding box, whose top-left pixel is ``origin``.
    """
    area = max(1, int(np.count_nonzero(board)))
    low, high = 0.0, 2.0 * math.hypot(*board.shape) + 4.0
    for _ in range(22):
        mid = (low + high) / 2
        covered = np.count_nonzero((_raster(shape(mid), board.shape, False, origin) > 0) & board) / area
        low, high = (mid, high) if covered < target_frac else (low, mid)
    return (low + high) / 2


# --- shapes: each returns (shape, colour, shading); all random draws happen before sizing -------------


def _ellipse(centre: tuple[float, float], radii: tuple[float, float], angle_deg: float) -> Polygon:
    theta = np.linspace(0, 2 * math.pi, 48, endpoint=False)
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    x, y = radii[0] * np.cos(theta), radii[1] * np.sin(theta)
    return np.stack([centre[0] + c * x - s * y, centre[1] + s * x + c * y], axis=1)


def _pole(box: tuple[float, ...], height: int, rng: np.random.Generator) -> tuple[Shape, tuple[int, ...], Shading]:
    """A vertical street pole crossing the whole picture, slightly slanted, shaded like a cylinder."""
    x0, _, x1, _ = box
    axis_x = x0 + float(rng.uniform(0.15, 0.85)) * (x1 - x0)
    slope = math.tan(math.radians(float(rng.uniform(-4, 4))))
    colour = _POLE_RGB[int(rng.integers(len(_POLE_RGB)))]
    top, bottom = -2.0, height + 2.0

    def polygons(width_px: float) -> list[Polygon]:
        half = width_px / 2
        xt, xb = axis_x + slope * top, axis_x + slope * bottom
        return [np.array([[xt - half, top], [xt + half, top], [xb + half, bottom], [xb - half, bottom]])]

    def shading(xx: np.ndarray, yy: np.ndarray, width_px: float) -> np.ndarray:
        across = (xx - axis_x - slope * yy) / max(width_px / 2, 1e-3)
        return 0.55 + 0.5 * np.sqrt(np.clip(1 - (across - 0.3) ** 2 / 1.69, 0, 1))

    return polygons, colour, shading


def _hand(box: tuple[float, ...], height: int, rng: np.random.Generator) -> tuple[Shape, tuple[int, ...], Shading]:
    """A hand-like blob (palm plus thumb) reaching up over the board's lower edge, out of focus."""
    x0, y0, x1, y1 = box
    base = (x0 + float(rng.uniform(0.1, 0.9)) * (x1 - x0), y1 + float(rng.uniform(0.0, 0.25)) * (y1 - y0))
    tilt_deg = float(rng.uniform(-30, 30))
    thumb_side = 1 if rng.random() < 0.5 else -1
    colour = tuple(int(v) for v in np.clip(np.array(_SKIN_RGB[int(rng.integers(len(_SKIN_RGB)))]) + rng.integers(-10, 11, 3), 0, 255))
    up = (math.sin(math.radians(tilt_deg)), -math.cos(math.radians(tilt_deg)))

    def polygons(size_px: float) -> list[Polygon]:
        palm = _ellipse(base, (0.8 * size_px, 1.15 * size_px), tilt_deg)
        side = (-up[1] * thumb_side, up[0] * thumb_side)
        tip = (base[0] + size_px * (0.75 * side[0] + 0.55 * up[0]), base[1] + size_px * (0.75 * side[1] + 0.55 * up[1]))
        thumb = _ellipse(tip, (0.28 * size_px, 0.6 * size_px), tilt_deg + 35 * thumb_side)
        return [palm, thumb]

    def shading(xx: np.ndarray, yy: np.ndarray, size_px: float) -> np.ndarray:
        distance = np.hypot(xx - base[0] - 0.2 * size_px, yy - base[1] + 0.4 * size_px) / max(size_px, 1e-3)
        return np.clip(1.08 - 0.22 * distance**2, 0.6, 1.1)

    return polygons, colour, shading


def _box(box: tuple[float, ...], height: int, rng: np.random.Generator) -> tuple[Shape, tuple[int, ...], Shading]:
    """A plain box passing in front, entering over the board's left or right edge, lit from above."""
    x0, y0, x1, y1 = box
    centre = (x0 if rng.random() < 0.5 else x1, y0 + float(rng.uniform(0.2, 0.8)) * (y1 - y0))
    aspect = float(rng.uniform(0.7, 1.4))
    angle = math.radians(float(rng.uniform(-8, 8)))
    colour = _BOX_RGB[int(rng.integers(len(_BOX_RGB)))]
    c, s = math.cos(angle), math.sin(angle)

    def polygons(size_px: float) -> list[Polygon]:
        half = np.array([[-1, -aspect], [1, -aspect], [1, aspect], [-1, aspect]]) * size_px
        return [np.stack([centre[0] + c * half[:, 0] - s * half[:, 1], centre[1] + s * half[:, 0] + c * half[:, 1]], axis=1)]

    def shading(xx: np.ndarray, yy: np.ndarray, size_px: float) -> np.ndarray:
        top = centre[1] - aspect * size_px
        return np.clip(1.05 - 0.3 * (yy - top) / max(2 * aspect * size_px, 1e-3), 0.7, 1.05)

    return polygons, colour, shading


_SHAPES = {"pole": _pole, "hand": _hand, "box": _box}
