"""The street a synthetic video is filmed on, and how one frame of it is photographed.

The world is a flat street front three frame widths wide and 2.4 frame heights tall ("world pixels":
at zoom 1 a world pixel is a frame pixel): a procedural wall (``synth_render``'s gradient, texture,
brick or tile) with windows, a door and a pavement strip, and ``signs`` phrasebook boards spread
left to right at shop-sign height, each turned a little out of plane. It is drawn at twice that
resolution, so a camera that zooms in still sees sharp letters, and kept as a small pyramid (2, 1 and
0.5 canvas pixels per world pixel) so a camera that zooms out does not alias. Poles and boxes
(``synth_occlusion``) stand in front of some signs at medium and hard difficulty; they are part of the
world, so they move with it.

A frame averages warps of the world at several instants inside the exposure (motion blur that follows
the camera's real motion, whatever it is), then goes through ``synth_render.sensor``: defocus, noise,
JPEG.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from harness.sources import synth_occlusion as occlusion
from harness.sources import synth_render as render
from harness.sources.phrasebook import PhraseEntry
from harness.sources.synth_camera import SceneLayout

__all__ = ["SUPERSAMPLE", "WORLD_SCALE", "World", "WorldSign", "build_world", "exposure_homographies", "photograph"]

WORLD_SCALE = (3.0, 2.4)  # world size in frame widths and frame heights
SUPERSAMPLE = 2  # canvas pixels per world pixel at the finest level
_LEVELS = (2.0, 1.0, 0.5)


@dataclass(frozen=True)
class WorldSign:
    """One sign in the world: its phrase and where its board and words are (4x2 arrays, world pixels)."""

    id: str
    entry: PhraseEntry
    translation: str | None
    board_quad: np.ndarray
    words: tuple[str, ...]
    word_quads: tuple[np.ndarray, ...]
    word_hidden: tuple[bool, ...]  # more than half hidden by something in front of the sign


@dataclass(frozen=True)
class World:
    """The rendered street: BGR uint8 canvases by canvas pixels per world pixel, and its signs left to right."""

    levels: tuple[tuple[float, np.ndarray], ...]
    signs: tuple[WorldSign, ...]
    layout: SceneLayout


@dataclass(frozen=True)
class SignStyle:
    """How the world draws its signs and light (a difficulty's ranges, sampled by ``build_world``)."""

    text_height_frac: Callable[[np.random.Generator], float]
    tilt_deg: Callable[[np.random.Generator], float]
    rotation_deg: Callable[[np.random.Generator], float]
    light: render.Degradation  # only lighting_strength and shadow_strength are used
    occlusion: Callable[[np.random.Generator], float]  # share of a board to hide, 0 for none


def build_world(
    frame_size_px: tuple[int, int],
    entries: tuple[PhraseEntry, ...],
    target_lang: str,
    style: SignStyle,
    rng: np.random.Generator,
    occlusion_rng: np.random.Generator,
) -> World:
    """Draw the street with one sign per entry; all randomness from the two generators."""
    width, height = frame_size_px
    world_w, world_h = round(WORLD_SCALE[0] * width), round(WORLD_SCALE[1] * height)
    slot_w = (world_w - 0.2 * width) / len(entries)
    fonts = render.available_fonts()
    boards = [_sign_board(entry, fonts, style, (width, height), slot_w, rng) for entry in entries]
    canvas = _street(world_w, world_h, rng)
    slots = [(0.1 * width + i * slot_w, slot_w) for i in range(len(entries))]
    placed = [_place(board, slot, (world_w, world_h), style, rng) for board, slot in zip(boards, slots, strict=True)]
    for board, homography in placed:
        _composite_in_place(canvas, board, homography)
    lighting, shadow = render.light_fields(world_w, world_h, style.light, rng)  # smooth: drawn at world scale
    occluders = _occlude_signs(canvas, placed, style, occlusion_rng)
    light = cv2.resize(lighting * shadow, (canvas.shape[1], canvas.shape[0]), interpolation=cv2.INTER_LINEAR)
    for channel in range(3):  # in place, one channel at a time: the canvas is large
        canvas[..., channel] = np.clip(canvas[..., channel] * light + 0.5, 0, 255).astype(np.uint8)
    canvas = cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR)
    signs = tuple(
        _world_sign(f"s{i}", entry, target_lang, board, homography, occluders)
        for i, (entry, (board, homography)) in enumerate(zip(entries, placed, strict=True))
    )
    layout = SceneLayout(
        (float(world_w), float(world_h)),
        (width, height),
        tuple(tuple(float(v) for v in sign.board_quad.mean(axis=0)) for sign in signs),  # type: ignore[misc]
        tuple(float(np.ptp(sign.board_quad[:, 0])) for sign in signs),
    )
    return World(_pyramid(canvas), signs, layout)


def _sign_board(
    entry: PhraseEntry, fonts: tuple, style: SignStyle, frame_size_px: tuple[int, int], slot_w: float, rng: np.random.Generator
) -> render.Board:
    """The board at canvas resolution: at most 80% of a frame wide, 85% of its slot, 45% of a frame high."""
    width, height = frame_size_px
    font_path = fonts[int(rng.integers(len(fonts)))]
    colours = render.PALETTE[int(rng.integers(len(render.PALETTE)))]
    font_px = max(8, round(style.text_height_frac(rng) * height))
    max_w = min(0.8 * width, 0.85 * slot_w)
    lines = render.break_lines(entry.en.split(), font_path, font_px, round(max_w / 0.85), rng)
    widest = max(render.line_width_px(line, font_path, font_px) for line in lines) + 1.2 * font_px
    tallest = (1.4 * len(lines) + 0.7) * font_px
    font_px = max(8, int(font_px * min(1.0, max_w / widest, 0.45 * height / tallest)))
    return render.render_board(lines, font_path, font_px * SUPERSAMPLE, colours, rng)


def _street(world_w: int, world_h: int, rng: np.random.Generator) -> np.ndarray:
    """Two to four building fronts (fewer in small worlds) with windows and a door over a pavement strip, RGB, at canvas resolution."""
    buildings = min(int(rng.integers(2, 5)), max(1, world_w // 240))  # each at least ~100 px wide
    cuts = (np.arange(1, buildings) + rng.uniform(-0.3, 0.3, buildings - 1)) * world_w / buildings
    edges = [0, *(int(c) for c in cuts), world_w]
    wall = np.concatenate([render.render_background(right - left, world_h, rng) for left, right in itertools.pairwise(edges)], axis=1)
    for x in edges[1:-1]:  # a drainpipe where two buildings meet
        shade = int(rng.integers(60, 160))
        cv2.rectangle(wall, (x - 3, 0), (x + 3, world_h), (shade, shade, shade), -1)
    for _ in range(int(rng.integers(4, 9))):
        _window(wall, rng)
    kerb = round(world_h * float(rng.uniform(0.66, 0.74)))
    _door(wall, kerb, rng)
    pavement = np.array(rng.integers(95, 150), np.float32) * (0.8 + 0.4 * render.value_noise(world_w, world_h - kerb, rng, octaves=5))
    wall[kerb:] = np.clip(pavement, 0, 255).astype(np.uint8)[..., None]
    wall[kerb : kerb + max(2, world_h // 120)] = int(rng.integers(170, 215))
    return cv2.resize(wall, (world_w * SUPERSAMPLE, world_h * SUPERSAMPLE), interpolation=cv2.INTER_LINEAR)


def _window(wall: np.ndarray, rng: np.random.Generator) -> None:
    height, width = wall.shape[:2]
    w, h = int(rng.integers(width // 30, width // 12)), int(rng.integers(height // 8, height // 4))
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, int(0.7 * height) - h))
    frame = tuple(int(v) for v in rng.integers(170, 250, 3))
    glass = np.linspace(rng.uniform(40, 90), rng.uniform(90, 150), h, dtype=np.float32)[:, None, None]
    wall[y : y + h, x : x + w] = np.clip(glass * np.array([0.85, 0.95, 1.1], np.float32), 0, 255).astype(np.uint8)  # bluish sky reflection
    cv2.rectangle(wall, (x, y), (x + w - 1, y + h - 1), frame, max(2, w // 14))


def _door(wall: np.ndarray, kerb: int, rng: np.random.Generator) -> None:
    height, width = wall.shape[:2]
    w, h = int(rng.integers(width // 40, width // 20)), int(rng.uniform(0.28, 0.38) * height)
    x = int(rng.integers(0, width - w))
    colour = tuple(int(v) for v in rng.integers(30, 120, 3))
    cv2.rectangle(wall, (x, kerb - h), (x + w, kerb), colour, -1)


def _place(
    board: render.Board, slot: tuple[float, float], world_size: tuple[int, int], style: SignStyle, rng: np.random.Generator
) -> tuple[render.Board, np.ndarray]:
    """The board's homography onto the canvas: near the middle of its slot (left, width), at sign height, slightly turned."""
    world_w, world_h = world_size
    size = (board.rgb.shape[1], board.rgb.shape[0])
    quad = render.project_board(size, style.tilt_deg(rng), style.rotation_deg(rng), world_w / WORLD_SCALE[0] * SUPERSAMPLE, rng)
    x = slot[0] + (0.5 + float(rng.uniform(-0.1, 0.1))) * slot[1]
    y = world_h * float(rng.uniform(0.34, 0.46))
    centre = (np.array([x, y]) + 0.5) * SUPERSAMPLE - 0.5
    quad = quad - quad.mean(axis=0) + centre
    return board, cv2.getPerspectiveTransform(board.corners().astype(np.float32), quad.astype(np.float32))


def _board_window(board: render.Board, homography: np.ndarray, canvas: np.ndarray) -> tuple[int, int, int, int, np.ndarray]:
    """The canvas window the warped board touches (x0, y0, x1, y1) and the homography into that window."""
    corners = cv2.perspectiveTransform(board.corners().reshape(-1, 1, 2), homography).reshape(4, 2)
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 3, (canvas.shape[1], canvas.shape[0]))
    return int(x0), int(y0), int(x1), int(y1), np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]]) @ homography


def _composite_in_place(canvas: np.ndarray, board: render.Board, homography: np.ndarray) -> None:
    """``render.composite`` restricted to the board's window (the canvas is large)."""
    x0, y0, x1, y1, shifted = _board_window(board, homography, canvas)
    canvas[y0:y1, x0:x1] = render.composite(canvas[y0:y1, x0:x1], board, shifted)


def _occlude_signs(canvas: np.ndarray, placed: list, style: SignStyle, rng: np.random.Generator) -> list[occlusion.Occluder]:
    """Draw poles and boxes in front of signs (in place) and return them."""
    occluders = []
    for board, homography in placed:
        frac = style.occlusion(rng)
        if frac < 0.005:
            continue
        x0, y0, x1, y1, shifted = _board_window(board, homography, canvas)
        mask = cv2.warpPerspective(board.alpha, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR) > 0.5
        if not mask.any():
            continue
        size = (canvas.shape[1], canvas.shape[0])
        occluder = occlusion.make_occluder(mask, frac, rng, ("pole", "box"), SUPERSAMPLE, (x0, y0), size)
        occlusion.apply_occluder(canvas, occluder)
        occluders.append(occluder)
    return occluders


def _hidden(quad: np.ndarray, occluders: list[occlusion.Occluder]) -> bool:
    """Whether the occluders together hide more than half of the quad (canvas pixels)."""
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 1
    clear = np.ones((y1 - y0, x1 - x0), np.float32)  # light getting through, in the quad's bounding box
    for occluder in occluders:
        (ox, oy), (h, w) = occluder.origin, occluder.alpha.shape
        ix0, iy0, ix1, iy1 = max(x0, ox), max(y0, oy), min(x1, ox + w), min(y1, oy + h)
        if ix1 > ix0 and iy1 > iy0:
            clear[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] *= 1 - occluder.alpha[iy0 - oy : iy1 - oy, ix0 - ox : ix1 - ox]
    return occlusion.hidden_share(1 - clear, quad - (x0, y0)) > 0.5


def _world_sign(
    sign_id: str, entry: PhraseEntry, lang: str, board: render.Board, homography: np.ndarray, occluders: list[occlusion.Occluder]
) -> WorldSign:
    def to_world(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        canvas = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography).reshape(4, 2)
        return canvas, (canvas + 0.5) / SUPERSAMPLE - 0.5

    quads = [to_world(word.corners()) for word in board.words]
    return WorldSign(
        sign_id,
        entry,
        entry.translation(lang),
        to_world(board.corners())[1],
        tuple(word.text for word in board.words),
        tuple(world for _, world in quads),
        tuple(_hidden(canvas, occluders) for canvas, _ in quads),
    )


def _pyramid(canvas: np.ndarray) -> tuple[tuple[float, np.ndarray], ...]:
    levels = [(float(SUPERSAMPLE), canvas)]
    for scale in _LEVELS[1:]:
        size = (round(canvas.shape[1] * scale / SUPERSAMPLE), round(canvas.shape[0] * scale / SUPERSAMPLE))
        levels.append((scale, cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)))
    return tuple(levels)


# --- photographing one frame --------------------------------------------------------------------------


def exposure_homographies(
    at: Callable[[float], np.ndarray], t_s: float, exposure_s: float, frame_size_px: tuple[int, int]
) -> list[np.ndarray]:
    """Homographies at instants spread over the exposure centred on ``t_s``, about one per pixel of motion."""
    if exposure_s <= 0:
        return [at(t_s)]
    first, last = at(t_s - exposure_s / 2), at(t_s + exposure_s / 2)
    width, height = frame_size_px
    probe = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1], [(width - 1) / 2, (height - 1) / 2]], np.float64)
    moved = cv2.perspectiveTransform(probe.reshape(-1, 1, 2), last @ np.linalg.inv(first)).reshape(-1, 2)
    travel_px = float(np.max(np.linalg.norm(moved - probe, axis=1)))
    count = int(min(16, max(1, np.ceil(travel_px))))
    if count == 1:
        return [at(t_s)]
    return [at(t_s - exposure_s / 2 + exposure_s * k / (count - 1)) for k in range(count)]


def photograph(
    world: World, homographies: list[np.ndarray], zoom: float, params: render.Degradation, rng: np.random.Generator
) -> np.ndarray:
    """One BGR uint8 frame: the mean of the world's warps by ``homographies``, then defocus, noise and JPEG.

    ``zoom`` (frame pixels per world pixel) picks the pyramid levels: the two that bracket it, blended
    by log-distance (trilinear mip-mapping), so sharpness does not jump as a zoom crosses a level.
    """
    size = world.layout.frame_size_px
    total = np.zeros((size[1], size[0], 3), np.float32)
    for (scale, canvas), weight in _level_weights(world.levels, zoom):
        to_world = np.array([[1 / scale, 0, (1 / scale - 1) / 2], [0, 1 / scale, (1 / scale - 1) / 2], [0, 0, 1]])
        for homography in homographies:
            warped = cv2.warpPerspective(canvas, homography @ to_world, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            total += np.float32(weight / len(homographies)) * warped
    return render.sensor(total, params, rng, fast_noise=True)


def _level_weights(levels: tuple[tuple[float, np.ndarray], ...], zoom: float) -> list[tuple[tuple[float, np.ndarray], float]]:
    """The one or two pyramid levels around ``zoom`` canvas pixels per frame pixel, with their weights."""
    finer = [level for level in levels if level[0] >= zoom]
    coarser = [level for level in levels if level[0] < zoom]
    if not finer or not coarser:
        return [(finer[-1] if finer else coarser[0], 1.0)]
    high, low = finer[-1], coarser[0]
    weight = float(np.log(high[0] / zoom) / np.log(high[0] / low[0]))
    return [(high, 1 - weight), (low, weight)] if weight > 1e-3 else [(high, 1.0)]
