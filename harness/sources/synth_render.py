"""Rendering helpers for the synthetic AR scene generator (``harness.sources.synthetic``).

Every function is a pure function of its arguments and a ``numpy.random.Generator``, so a scene is
reproducible byte for byte. Coordinates are pixels (x right, y down); colours are RGB until the
generator converts the finished scene to BGR. Sizes end in ``_px``, angles in ``_deg``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from harness.errors import DataMissing

__all__ = [
    "FONT_DIRS",
    "FONT_FILES",
    "PALETTE",
    "Board",
    "Degradation",
    "SignColours",
    "WordBox",
    "available_fonts",
    "break_lines",
    "composite",
    "degrade",
    "light_fields",
    "line_width_px",
    "place_board",
    "project_board",
    "render_background",
    "render_board",
    "sensor",
    "value_noise",
]

RGB = tuple[int, int, int]

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/usr/share/fonts/TTF"))
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansMono.ttf",
)


@dataclass(frozen=True)
class SignColours:
    """A sign's board colour and its text (ink) colour, chosen for strong contrast."""

    board_rgb: RGB
    ink_rgb: RGB


PALETTE = (
    SignColours((0, 122, 61), (255, 255, 255)),  # white on green: exits, directions
    SignColours((0, 70, 150), (255, 255, 255)),  # white on blue: information
    SignColours((190, 30, 45), (255, 255, 255)),  # white on red: prohibitions
    SignColours((250, 205, 0), (20, 20, 20)),  # black on yellow: warnings
    SignColours((245, 245, 240), (20, 20, 20)),  # black on white: notices
    SignColours((35, 35, 40), (250, 250, 250)),  # white on black: shop fronts
    SignColours((245, 245, 240), (0, 60, 140)),  # blue on white: menus, labels
)


@dataclass(frozen=True)
class WordBox:
    """A rendered word and its ink box (x0, y0, x1, y1) on the board, in pixel-edge coordinates."""

    text: str
    box_px: tuple[float, float, float, float]

    def corners(self) -> np.ndarray:
        """The box's corners clockwise from top-left, 4x2, in pixel-centre coordinates (OpenCV's)."""
        x0, y0, x1, y1 = (v - 0.5 for v in self.box_px)
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


@dataclass(frozen=True)
class Board:
    """A flat sign before placement: RGB pixels, coverage alpha in [0, 1] and its words in reading order."""

    rgb: np.ndarray
    alpha: np.ndarray
    words: tuple[WordBox, ...]

    def corners(self) -> np.ndarray:
        """The board image's corners clockwise from top-left, 4x2, pixel-centre coordinates."""
        h, w = self.alpha.shape
        return np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], dtype=np.float64)


@dataclass(frozen=True)
class Degradation:
    """Sampled capture degradations for one scene (the ranges live in ``synthetic.REALISM``)."""

    motion_blur_px: float
    defocus_sigma_px: float
    noise_sigma: float  # standard deviation in 8-bit levels
    jpeg_quality: int
    lighting_strength: float  # 0: even light; 0.5: one side at half brightness
    shadow_strength: float  # 0: no shadow; fraction of light the shadow removes


@functools.cache
def available_fonts() -> tuple[Path, ...]:
    """The DejaVu font files present, in ``FONT_FILES`` order; raises DataMissing when there are none."""
    found = [_find_font(name) for name in FONT_FILES]
    fonts = tuple(path for path in found if path is not None)
    if not fonts:
        dirs = ", ".join(str(d) for d in FONT_DIRS)
        raise DataMissing(f"no DejaVu fonts in {dirs}; install them with `apt-get install fonts-dejavu-core`")
    return fonts


def _find_font(name: str) -> Path | None:
    return next((d / name for d in FONT_DIRS if (d / name).is_file()), None)


@functools.lru_cache(maxsize=256)
def _font(path: Path, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size_px)


def line_width_px(words: Sequence[str], font_path: Path, font_px: int) -> float:
    """Advance width of ``words`` joined by single spaces."""
    return float(_font(font_path, font_px).getlength(" ".join(words)))


def break_lines(words: list[str], font_path: Path, font_px: int, width_px: int, rng: np.random.Generator) -> list[list[str]]:
    """One line, or two balanced lines (always when one would be wider than 85% of ``width_px``, sometimes by choice)."""
    by_choice = rng.random() < 0.4  # drawn always, so later draws do not depend on the text's width
    too_wide = line_width_px(words, font_path, font_px) + 1.2 * font_px > 0.85 * width_px
    if len(words) < 2 or not (by_choice or too_wide):
        return [words]
    lengths = [abs(len(" ".join(words[:k])) - len(" ".join(words[k:]))) for k in range(1, len(words))]
    split = 1 + int(np.argmin(lengths))
    return [words[:split], words[split:]]


# --- the sign board ---------------------------------------------------------------------------------


def render_board(lines: Sequence[Sequence[str]], font_path: Path, font_px: int, colours: SignColours, rng: np.random.Generator) -> Board:
    """Draw centred lines of words on a rounded board; word boxes are measured from the drawn ink."""
    font = _font(font_path, font_px)
    ascent, descent = font.getmetrics()
    line_step = ascent + descent + round(0.2 * font_px)
    pad_x, pad_y = round(0.6 * font_px), round(0.45 * font_px)
    width = round(max(line_width_px(line, font_path, font_px) for line in lines)) + 2 * pad_x
    height = line_step * len(lines) - round(0.2 * font_px) + 2 * pad_y
    image = Image.new("RGB", (width, height), _jitter(colours.board_rgb, rng))
    alpha = _board_shape(width, height, font_px)
    if rng.random() < 0.5:
        _draw_border(image, font_px, colours.ink_rgb)
    words = []
    for row, line in enumerate(lines):
        x = (width - line_width_px(line, font_path, font_px)) / 2
        words += _draw_line(image, line, (x, pad_y + row * line_step), font, colours.ink_rgb)
    return Board(np.asarray(image), np.asarray(alpha, dtype=np.float32) / 255.0, tuple(words))


def _jitter(rgb: RGB, rng: np.random.Generator) -> RGB:
    shift = rng.integers(-12, 13, size=3)
    return tuple(int(v) for v in np.clip(np.array(rgb) + shift, 0, 255))  # type: ignore[return-value]


def _board_shape(width: int, height: int, font_px: int) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius=round(0.3 * font_px), fill=255)
    return mask


def _draw_border(image: Image.Image, font_px: int, ink_rgb: RGB) -> None:
    inset, stroke = round(0.15 * font_px), max(1, round(0.05 * font_px))
    box = (inset, inset, image.width - 1 - inset, image.height - 1 - inset)
    ImageDraw.Draw(image).rounded_rectangle(box, radius=round(0.2 * font_px), outline=ink_rgb, width=stroke)


def _draw_line(
    image: Image.Image, line: Sequence[str], origin: tuple[float, float], font: ImageFont.FreeTypeFont, ink: RGB
) -> list[WordBox]:
    x, y = origin
    boxes = []
    for word in line:
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).text((round(x), round(y)), word, font=font, fill=255)
        box = mask.getbbox()
        if box is not None:  # a word with ink (every printable word has some)
            image.paste(ink, mask=mask)
            boxes.append(WordBox(word, tuple(float(v) for v in box)))  # type: ignore[arg-type]
        x += font.getlength(word + " ")
    return boxes


# --- the background ---------------------------------------------------------------------------------


def render_background(width_px: int, height_px: int, rng: np.random.Generator) -> np.ndarray:
    """A procedural wall, floor or sky: gradient, noise texture, brick or tile, plus 0-2 plain shapes."""
    kinds: tuple[Callable[[int, int, np.random.Generator], np.ndarray], ...] = (
        _gradient,
        _texture,
        _bricks,
        _tiles,
    )
    scene = kinds[int(rng.integers(len(kinds)))](width_px, height_px, rng)
    _add_distractors(scene, int(rng.integers(0, 3)), rng)
    return scene


def value_noise(width_px: int, height_px: int, rng: np.random.Generator, octaves: int = 4) -> np.ndarray:
    """Smooth random texture in [0, 1], HxW float32, from upsampled random grids (coarse to fine)."""
    total = np.zeros((height_px, width_px), np.float32)
    for octave in range(octaves):
        cells = 4 * 2**octave
        grid = rng.random((cells * height_px // width_px + 2, cells + 2)).astype(np.float32)
        total += cv2.resize(grid, (width_px, height_px), interpolation=cv2.INTER_CUBIC) / 2**octave
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _random_rgb(rng: np.random.Generator, low: int = 30, high: int = 230) -> np.ndarray:
    return rng.integers(low, high, size=3).astype(np.float32)


def _ramp(width_px: int, height_px: int, angle_deg: float) -> np.ndarray:
    """A linear ramp from 0 to 1 across the image along ``angle_deg``."""
    yy, xx = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    theta = math.radians(angle_deg)
    ramp = xx * math.cos(theta) + yy * math.sin(theta)
    ramp -= ramp.min()
    return ramp / max(float(ramp.max()), 1e-6)


def _gradient(width_px: int, height_px: int, rng: np.random.Generator) -> np.ndarray:
    ramp = _ramp(width_px, height_px, float(rng.uniform(0, 360)))[..., None]
    base = _random_rgb(rng) * (1 - ramp) + _random_rgb(rng) * ramp
    grain = value_noise(width_px, height_px, rng)[..., None] - 0.5
    return np.clip(base + 40 * grain, 0, 255).astype(np.uint8)


def _texture(width_px: int, height_px: int, rng: np.random.Generator) -> np.ndarray:
    noise = value_noise(width_px, height_px, rng, octaves=6)[..., None]
    return np.clip(_random_rgb(rng) * (0.55 + 0.9 * noise), 0, 255).astype(np.uint8)


def _bricks(width_px: int, height_px: int, rng: np.random.Generator) -> np.ndarray:
    brick_h = int(rng.integers(16, 40))
    return _masonry(width_px, height_px, (int(brick_h * rng.uniform(2.0, 2.8)), brick_h), True, rng)


def _tiles(width_px: int, height_px: int, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(24, 90))
    return _masonry(width_px, height_px, (side, side), False, rng)


def _masonry(width_px: int, height_px: int, cell_px: tuple[int, int], staggered: bool, rng: np.random.Generator) -> np.ndarray:
    """Bricks or tiles: cells of jittered colour separated by mortar lines, with a little grime."""
    cell_w, cell_h = cell_px
    yy, xx = np.mgrid[0:height_px, 0:width_px]
    row = yy // cell_h
    shifted = xx + (row % 2) * (cell_w // 2) * staggered
    col = shifted // cell_w
    shades = rng.uniform(0.8, 1.2, size=(int(row.max()) + 1, int(col.max()) + 1)).astype(np.float32)
    scene = _random_rgb(rng, 60, 220) * shades[row, col][..., None]
    mortar_px = int(rng.integers(2, 5))
    mortar = (yy % cell_h < mortar_px) | (shifted % cell_w < mortar_px)
    scene[mortar] = _random_rgb(rng, 120, 230)
    grime = value_noise(width_px, height_px, rng)[..., None]
    return np.clip(scene * (0.75 + 0.5 * grime), 0, 255).astype(np.uint8)


def _add_distractors(scene: np.ndarray, count: int, rng: np.random.Generator) -> None:
    """Plain ellipses and rectangles (never text), so detectors see edges that are not words."""
    height_px, width_px = scene.shape[:2]
    for _ in range(count):
        centre = (int(rng.integers(0, width_px)), int(rng.integers(0, height_px)))
        size = (int(rng.integers(20, width_px // 4)), int(rng.integers(20, height_px // 4)))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            cv2.ellipse(scene, centre, size, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        else:
            corner = (centre[0] + size[0], centre[1] + size[1])
            cv2.rectangle(scene, centre, corner, colour, -1)


# --- placement --------------------------------------------------------------------------------------


def place_board(
    board_size_px: tuple[int, int],
    tilt_deg: float,
    rotation_deg: float,
    image_size_px: tuple[int, int],
    rng: np.random.Generator,
) -> np.ndarray:
    """Where the board's corners land in the image (4x2, clockwise from top-left).

    The board is turned ``tilt_deg`` out of plane about a random axis in its plane (mostly about the
    vertical axis, as for a sign seen from the side) and ``rotation_deg`` in plane, then projected by a
    pinhole camera whose focal length is the image width; it is shrunk only if it would not fit.
    """
    width_px, height_px = image_size_px
    projected = project_board(board_size_px, tilt_deg, rotation_deg, float(width_px), rng)
    span = projected.max(axis=0) - projected.min(axis=0)
    scale = min(1.0, 0.92 * width_px / span[0], 0.9 * height_px / span[1])
    quad = (projected - projected.min(axis=0)) * scale
    room = np.array([width_px, height_px]) - span * scale
    return quad + rng.uniform(0.04, 0.96, size=2) * room


def project_board(
    board_size_px: tuple[int, int], tilt_deg: float, rotation_deg: float, focal_px: float, rng: np.random.Generator
) -> np.ndarray:
    """The board's corners (4x2, clockwise from top-left) turned as ``place_board`` turns them, centred on 0.

    Draws the tilt axis from ``rng``; the board's centre sits ``focal_px`` in front of the pinhole.
    """
    return _project(_turned_corners(board_size_px, tilt_deg, rotation_deg, rng), focal_px)


def _turned_corners(board_size_px: tuple[int, int], tilt_deg: float, rotation_deg: float, rng: np.random.Generator) -> np.ndarray:
    w, h = board_size_px
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]], float)
    axis_deg = float(rng.normal(0, 25)) + 90 * int(rng.random() < 0.2)  # mostly a vertical axis
    yaw, pitch = (math.radians(tilt_deg) * f for f in (math.cos(math.radians(axis_deg)), math.sin(math.radians(axis_deg))))
    yaw *= 1 if rng.random() < 0.5 else -1
    return corners @ _rotation_z(math.radians(rotation_deg)).T @ _rotation_xy(pitch, yaw).T


def _rotation_z(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _rotation_xy(pitch: float, yaw: float) -> np.ndarray:
    cp, sp, cy, sy = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    about_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    about_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return about_y @ about_x


def _project(points: np.ndarray, focal_px: float) -> np.ndarray:
    depth = focal_px + points[:, 2]  # the board's centre sits one focal length from the camera
    return focal_px * points[:, :2] / depth[:, None]


def composite(scene: np.ndarray, board: Board, homography: np.ndarray) -> np.ndarray:
    """Warp the board into the scene with ``homography`` (board pixels to image pixels) and blend."""
    size = (scene.shape[1], scene.shape[0])
    rgb = cv2.warpPerspective(board.rgb, homography, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpPerspective(board.alpha, homography, size, flags=cv2.INTER_LINEAR)[..., None]
    blended = scene.astype(np.float32) * (1 - alpha) + rgb.astype(np.float32) * alpha
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


# --- capture degradations ---------------------------------------------------------------------------


def degrade(scene: np.ndarray, params: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Light, shadow, motion blur, defocus, sensor noise, then JPEG, in the order a camera sees them.

    ``scene`` is BGR uint8 (JPEG's colour transform assumes OpenCV's channel order); returns BGR uint8.
    """
    image = scene.astype(np.float32)
    lighting, shadow = light_fields(image.shape[1], image.shape[0], params, rng)
    image *= lighting[..., None]
    image *= shadow[..., None]
    image = _motion_blur(image, params.motion_blur_px, rng)
    return sensor(image, params, rng)


def light_fields(width_px: int, height_px: int, params: Degradation, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The brightness falloff and the cast shadow (HxW float32 multipliers), drawn as ``degrade`` draws them."""
    lighting = _lighting(width_px, height_px, params.lighting_strength, rng)
    return lighting, _shadow(width_px, height_px, params.shadow_strength, rng)


def sensor(image: np.ndarray, params: Degradation, rng: np.random.Generator, fast_noise: bool = False) -> np.ndarray:
    """The camera's last steps on an HxWx3 float32 BGR image: defocus, sensor noise, JPEG; returns uint8.

    ``fast_noise`` draws the noise in float32 (about three times faster; different numbers than the
    float64 draws still scenes have always used, so those keep it off).
    """
    if params.defocus_sigma_px > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), params.defocus_sigma_px)
    if fast_noise:
        image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(params.noise_sigma)
    else:
        image += rng.normal(0, params.noise_sigma, size=image.shape).astype(np.float32)
    return _jpeg(np.clip(image + 0.5, 0, 255).astype(np.uint8), params.jpeg_quality)


def _lighting(width_px: int, height_px: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A brightness field falling from 1 to 1 - strength along a random direction."""
    return 1.0 - strength * _ramp(width_px, height_px, float(rng.uniform(0, 360)))


def _shadow(width_px: int, height_px: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A soft-edged shadow: a half plane (a building) or a band (a pole), removing ``strength`` of the light."""
    field = np.ones((height_px, width_px), np.float32)
    if strength <= 0:
        return field
    ramp = _ramp(width_px, height_px, float(rng.uniform(0, 360)))
    edge = float(rng.uniform(0.3, 0.7))
    mask = ramp > edge if rng.random() < 0.5 else np.abs(ramp - edge) < rng.uniform(0.03, 0.12)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), float(rng.uniform(2, 10)))
    return field - strength * soft


def _motion_blur(image: np.ndarray, length_px: float, rng: np.random.Generator) -> np.ndarray:
    """Blur along a random direction by a line kernel ``length_px`` long (none below 1.5 px)."""
    angle_deg = float(rng.uniform(0, 180))
    if length_px < 1.5:
        return image
    size = math.ceil(length_px) | 1
    kernel = np.zeros((size, size), np.float32)
    centre, half = size // 2, length_px / 2
    dx, dy = half * math.cos(math.radians(angle_deg)), half * math.sin(math.radians(angle_deg))
    start, end = (round(centre - dx), round(centre - dy)), (round(centre + dx), round(centre + dy))
    cv2.line(kernel, start, end, 1.0, 1, cv2.LINE_AA)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    if quality >= 100:
        return image
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
