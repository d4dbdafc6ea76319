"""Deterministic synthetic AR scenes: a sign from the phrasebook, photographed badly on purpose.

Each scene is a procedural background (gradient, value-noise texture, brick or tile wall, plus 0-2
plain shapes that are never text), a rounded sign board with a phrase in one or two centred lines of a
DejaVu font, warped into the picture by a perspective homography, then degraded like a phone camera
frame. Ground truth has one word per rendered word: its ink box's corners mapped by the same
homography (clockwise from top-left, float pixels), the phrase as rendered and its reference
translation from the phrasebook.

The difficulty picks ranges for the realism knobs (``REALISM``); each scene samples one value per
knob from its range:

=================  =========  ==========  ===========  ==============================================
knob               easy       medium      hard         meaning
=================  =========  ==========  ===========  ==============================================
tilt_deg           0-15       15-45       30-55        board turned out of plane (perspective)
rotation_deg       0-3        2-12        8-25         in-plane rotation, either sign
text_height_frac   0.06-0.10  0.03-0.05   0.028-0.048  font size (em) / image height
motion_blur_px     0-1.5      2-5.5       3-6          length of the motion-blur line kernel
defocus_sigma_px   0-0.5      0.8-1.3     0.9-1.6      Gaussian defocus sigma
noise_sigma        0-3        4-10        7-12         Gaussian sensor noise, 8-bit levels
jpeg_quality       85-95      40-65       25-45        JPEG re-encoding quality
lighting_strength  0-0.15     0.15-0.4    0.3-0.55     brightness falloff across the frame
shadow_strength    none       0.3-0.5     0.4-0.65     light a soft cast shadow removes...
shadow_chance      0          0.3         0.6          ...in this share of scenes
occlusion_frac     none       0-0.15      0.1-0.3      share of the board's area an occluder hides...
occlusion_chance   0          0.4         0.5          ...in this share of scenes
=================  =========  ==========  ===========  ==============================================

Occluders (``synth_occlusion``) are a street pole, a hand-like blob or a passing box drawn in front of
the board, never anything text-like. A word whose quad is more than half hidden is marked
``dont_care=True``, as ICDAR marks illegible "###" regions, so detection metrics and word recall skip
it; ``GroundTruth.source_text`` and ``reference_translation`` stay the sign's whole phrase (what the
sign says, not what is legible), so CER and chrF on occluded scenes also count the hidden words.

Measured with RapidOCR (PP-OCRv4 det/rec, default settings) on 960x540 scenes, words read exactly
(case and punctuation ignored; 24 scenes, seeds 0-3): easy ~100%, medium ~80-90%, hard under 10%
(about 25% without occluders: a pole or box over 10-30% of a small board takes letters from most
words it touches without hiding half of any, so those words stay scored). Scene ``index`` draws the
same phrase, font, colours and background at every difficulty for one seed, so difficulties compare
like for like.

Everything random comes from ``numpy.random.default_rng([seed, index])``, and the occluder from its own
stream ``default_rng([seed, index, OCCLUSION_STREAM])``: the same options and index give the same bytes
on the same library versions, with no global state and no clock. Because the occluder has its own
stream, a medium or hard scene is the scene it was before occlusion existed with an occluder drawn on
top, and easy scenes (no occluders) are unchanged byte for byte.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from harness.errors import ConfigError
from harness.sources import synth_occlusion as occlusion
from harness.sources import synth_render as render
from harness.sources.base import SourceBase
from harness.sources.files import replay_rendered
from harness.sources.phrasebook import PhraseEntry, load_phrasebook
from harness.types import Frame, GroundTruth, GroundTruthWord, quad_from_array

__all__ = [
    "REALISM",
    "Interval",
    "Realism",
    "SceneOptions",
    "SyntheticSource",
    "generate_scene",
    "scene_occluder",
    "write_scene_set",
]

TARGET_LANGS = ("es", "de")
OCCLUSION_STREAM = 0x0CC1  # third seed word of the occluder's random stream
PNG_PARAMS = (cv2.IMWRITE_PNG_COMPRESSION, 3)


@dataclass(frozen=True)
class Interval:
    """A closed range a knob is drawn from, uniformly."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        """One uniform draw from [low, high]."""
        return float(rng.uniform(self.low, self.high))

    def sample_signed(self, rng: np.random.Generator) -> float:
        """One draw from [low, high] with a random sign (two draws: magnitude, then sign)."""
        magnitude = self.sample(rng)
        return magnitude if rng.random() < 0.5 else -magnitude


@dataclass(frozen=True)
class Realism:
    """The ranges one difficulty draws its scene knobs from (see the module docstring for units)."""

    tilt_deg: Interval
    rotation_deg: Interval
    text_height_frac: Interval
    motion_blur_px: Interval
    defocus_sigma_px: Interval
    noise_sigma: Interval
    jpeg_quality: Interval
    lighting_strength: Interval
    shadow_strength: Interval
    shadow_chance: float
    occlusion_frac: Interval = Interval(0, 0)
    occlusion_chance: float = 0.0


REALISM = MappingProxyType(
    {
        "easy": Realism(
            tilt_deg=Interval(0, 15),
            rotation_deg=Interval(0, 3),
            text_height_frac=Interval(0.06, 0.10),
            motion_blur_px=Interval(0, 1.5),
            defocus_sigma_px=Interval(0, 0.5),
            noise_sigma=Interval(0, 3),
            jpeg_quality=Interval(85, 95),
            lighting_strength=Interval(0, 0.15),
            shadow_strength=Interval(0, 0),
            shadow_chance=0.0,
        ),
        "medium": Realism(
            tilt_deg=Interval(15, 45),
            rotation_deg=Interval(2, 12),
            text_height_frac=Interval(0.03, 0.05),
            motion_blur_px=Interval(2, 5.5),
            defocus_sigma_px=Interval(0.8, 1.3),
            noise_sigma=Interval(4, 10),
            jpeg_quality=Interval(40, 65),
            lighting_strength=Interval(0.15, 0.4),
            shadow_strength=Interval(0.3, 0.5),
            shadow_chance=0.3,
            occlusion_frac=Interval(0, 0.15),
            occlusion_chance=0.4,
        ),
        "hard": Realism(
            tilt_deg=Interval(30, 55),
            rotation_deg=Interval(8, 25),
            text_height_frac=Interval(0.028, 0.048),
            motion_blur_px=Interval(3, 6),
            defocus_sigma_px=Interval(0.9, 1.6),
            noise_sigma=Interval(7, 12),
            jpeg_quality=Interval(25, 45),
            lighting_strength=Interval(0.3, 0.55),
            shadow_strength=Interval(0.4, 0.65),
            shadow_chance=0.6,
            occlusion_frac=Interval(0.1, 0.3),
            occlusion_chance=0.5,
        ),
    }
)


@dataclass(frozen=True)
class SceneOptions:
    """What to generate: ``n`` scenes of ``width_px`` x ``height_px`` at a difficulty, from ``seed``.

    ``target_lang`` picks the reference translation ("es" or "de"; German skips phrases without
    one); ``loop`` makes ``SyntheticSource.frames()`` cycle over the scenes forever.
    """

    seed: int = 0
    n: int = 16
    width_px: int = 960
    height_px: int = 540
    difficulty: str = "easy"
    target_lang: str = "es"
    loop: bool = True

    def __post_init__(self) -> None:
        if self.difficulty not in REALISM:
            valid = ", ".join(REALISM)
            raise ConfigError(f"unknown synthetic difficulty {self.difficulty!r}; use one of: {valid}")
        if self.target_lang not in TARGET_LANGS:
            raise ConfigError(f"synthetic target_lang must be one of {', '.join(TARGET_LANGS)}, not {self.target_lang!r}")
        if self.seed < 0 or self.n < 1:
            raise ConfigError(f"synthetic scenes need seed >= 0 and n >= 1 (got seed={self.seed}, n={self.n})")
        if self.width_px < 160 or self.height_px < 120:
            raise ConfigError(f"synthetic scenes must be at least 160x120 px, not {self.width_px}x{self.height_px}")


def generate_scene(options: SceneOptions, index: int) -> tuple[np.ndarray, GroundTruth]:
    """Render scene ``index`` of ``options``: a BGR uint8 HxWx3 image and its ground truth."""
    image, truth, _ = _render_scene(options, index)
    return image, truth


def scene_occluder(options: SceneOptions, index: int) -> np.ndarray:
    """The occluder's coverage alpha (HxW float32 in [0, 1], all zero when none) in scene ``index``.

    For checking ground truth and drawing figures; it renders the whole scene again.
    """
    return _render_scene(options, index)[2]


def _render_scene(options: SceneOptions, index: int) -> tuple[np.ndarray, GroundTruth, np.ndarray]:
    if index < 0:
        raise ValueError(f"scene index must be >= 0, got {index}")
    rng = np.random.default_rng([options.seed, index])
    knobs = REALISM[options.difficulty]
    entry = _pick_entry(options.target_lang, rng)
    board = _render_sign(entry, knobs, options, rng)
    scene = render.render_background(options.width_px, options.height_px, rng)
    quad = render.place_board(
        (board.rgb.shape[1], board.rgb.shape[0]),
        knobs.tilt_deg.sample(rng),
        knobs.rotation_deg.sample_signed(rng),
        (options.width_px, options.height_px),
        rng,
    )
    homography = cv2.getPerspectiveTransform(board.corners().astype(np.float32), quad.astype(np.float32))
    scene = render.composite(scene, board, homography)
    occluder = _occluder(options, index, knobs, board, homography)
    if occluder is not None:
        occlusion.apply_occluder(scene, occluder)
    image = render.degrade(cv2.cvtColor(scene, cv2.COLOR_RGB2BGR), _sample_degradation(knobs, rng), rng)
    alpha = occluder.full_alpha(image.shape) if occluder is not None else np.zeros(image.shape[:2], np.float32)
    return image, _ground_truth(board, homography, entry.translation(options.target_lang), alpha), alpha


@functools.cache
def entries_for(lang: str) -> tuple[PhraseEntry, ...]:
    """Phrasebook entries that have a translation into ``lang``, in file order."""
    return tuple(entry for entry in load_phrasebook() if entry.translation(lang))


def _pick_entry(lang: str, rng: np.random.Generator) -> PhraseEntry:
    entries = entries_for(lang)
    return entries[int(rng.integers(len(entries)))]


def _occluder(options: SceneOptions, index: int, knobs: Realism, board: render.Board, homography: np.ndarray) -> occlusion.Occluder | None:
    """The scene's occluder, from its own random stream; None (and no draws at all) when the knobs rule it out."""
    if knobs.occlusion_chance <= 0 or knobs.occlusion_frac.high <= 0:
        return None
    rng = np.random.default_rng([options.seed, index, OCCLUSION_STREAM])
    if rng.random() >= knobs.occlusion_chance:
        return None
    frac = knobs.occlusion_frac.sample(rng)
    size = (options.width_px, options.height_px)
    board_mask = cv2.warpPerspective(board.alpha, homography, size, flags=cv2.INTER_LINEAR) > 0.5
    if frac < 0.005 or not board_mask.any():
        return None
    return occlusion.make_occluder(board_mask, frac, rng)


def _render_sign(entry: PhraseEntry, knobs: Realism, options: SceneOptions, rng: np.random.Generator) -> render.Board:
    fonts = render.available_fonts()
    font_path = fonts[int(rng.integers(len(fonts)))]
    colours = render.PALETTE[int(rng.integers(len(render.PALETTE)))]
    font_px = max(8, round(knobs.text_height_frac.sample(rng) * options.height_px))
    lines = render.break_lines(entry.en.split(), font_path, font_px, options.width_px, rng)
    font_px = _fit_font(lines, font_path, font_px, options)
    return render.render_board(lines, font_path, font_px, colours, rng)


def _fit_font(lines: Sequence[Sequence[str]], font_path: Path, font_px: int, options: SceneOptions) -> int:
    """Shrink the font so the flat board is at most 85% of the image wide and 80% high."""
    widest = max(render.line_width_px(line, font_path, font_px) for line in lines) + 1.2 * font_px
    tallest = (1.4 * len(lines) + 0.7) * font_px
    scale = min(1.0, 0.85 * options.width_px / widest, 0.8 * options.height_px / tallest)
    return max(8, int(font_px * scale))


def _sample_degradation(knobs: Realism, rng: np.random.Generator) -> render.Degradation:
    shadowed = rng.random() < knobs.shadow_chance
    return render.Degradation(
        motion_blur_px=knobs.motion_blur_px.sample(rng),
        defocus_sigma_px=knobs.defocus_sigma_px.sample(rng),
        noise_sigma=knobs.noise_sigma.sample(rng),
        jpeg_quality=round(knobs.jpeg_quality.sample(rng)),
        lighting_strength=knobs.lighting_strength.sample(rng),
        shadow_strength=knobs.shadow_strength.sample(rng) if shadowed else 0.0,
    )


def _ground_truth(board: render.Board, homography: np.ndarray, translation: str | None, occluder_alpha: np.ndarray) -> GroundTruth:
    """Word quads as placed; a word more than half hidden by the occluder is ``dont_care``."""
    words = []
    for word in board.words:
        quad = _warp_corners(word.corners(), homography)
        hidden = occlusion.hidden_share(occluder_alpha, quad) > 0.5
        words.append(GroundTruthWord(quad_from_array(np.round(quad, 2)), word.text, dont_care=hidden))
    return GroundTruth(tuple(words), " ".join(word.text for word in board.words), translation)


def _warp_corners(corners: np.ndarray, homography: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography).reshape(4, 2)


class SyntheticSource(SourceBase):
    """Frames from pre-rendered synthetic scenes; rendering happens in ``open()``, not in capture.

    Each frame carries a fresh copy of its scene's pixels, as a camera hands over a new buffer, so
    downstream stages may draw on ``Frame.image``.
    """

    def __init__(self, options: SceneOptions, context: object = None) -> None:
        self.options = options
        self.name = f"synthetic:{options.difficulty}:seed{options.seed}"
        self._scenes: tuple[tuple[np.ndarray, GroundTruth], ...] = ()

    def open(self) -> None:
        """Render all ``options.n`` scenes into memory."""
        self._scenes = tuple(generate_scene(self.options, k) for k in range(self.options.n))

    def frames(self) -> Iterator[Frame]:
        """Scenes in index order, cycling forever when ``options.loop``; frame ids keep increasing."""
        if not self._scenes:
            raise RuntimeError("SyntheticSource.frames() called before open()")
        return replay_rendered(self._scenes, self.name, "scene_{:05d}", self.options.loop)

    def close(self) -> None:
        """Drop the rendered scenes."""
        self._scenes = ()


def write_scene_set(options: SceneOptions, out_dir: Path) -> Path:
    """Write ``scene_00000.png``... and ``ground_truth.jsonl`` into ``out_dir``; returns the jsonl path.

    Output is byte-identical for the same options (fixed PNG parameters, fixed JSON key order).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for k in range(options.n):
        image, truth = generate_scene(options, k)
        file_name = f"scene_{k:05d}.png"
        if not cv2.imwrite(str(out_dir / file_name), image, list(PNG_PARAMS)):
            raise OSError(f"cannot write {out_dir / file_name}")
        lines.append(json.dumps(_truth_record(file_name, truth), ensure_ascii=False))
    manifest = out_dir / "ground_truth.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def _truth_record(file_name: str, truth: GroundTruth) -> dict[str, object]:
    words = [{"quad": [list(corner) for corner in word.quad], "text": word.text, "dont_care": word.dont_care} for word in truth.words]
    return {
        "file": file_name,
        "source_text": truth.source_text,
        "reference_translation": truth.reference_translation,
        "words": words,
    }


def preflight(options: object, context: object) -> None:
    """Before a run: the fonts the scenes are drawn with are installed (rendering waits for the worker)."""
    from harness.sources.synth_render import available_fonts

    available_fonts()
