"""Deterministic synthetic videos: a hand-held phone filming a street with phrasebook signs.

One still world (``synth_world``: a street front three frames wide with ``signs`` boards) is filmed by
a camera path (``synth_camera``: ``pan``, ``zoom``, ``shake`` or ``walk``) that gives each frame a
world-to-frame homography. Each frame is the world warped by the homographies of several instants
inside the exposure (motion blur along the camera's real motion), then defocus, sensor noise (fresh
every frame) and JPEG. The difficulty draws the signs and the sensor from ``synthetic.REALISM`` (text
size, defocus, noise, JPEG, light, shadow, occlusion by poles and boxes; tilt and in-plane rotation at
half the still-scene ranges, as the camera adds its own perspective) and the motion from
``VIDEO_REALISM``:

==============  ==========  ==========  ==========  ================================================
knob            easy        medium      hard        meaning
==============  ==========  ==========  ==========  ================================================
exposure_frac   0.1-0.25    0.3-0.5     0.45-0.7    shutter-open share of the frame interval (blur)
shake_scale     1.0         1.6         2.2         multiplies the tremor's size
==============  ==========  ==========  ==========  ================================================

Measured with RapidOCR (PP-OCRv4, default settings) at 640x360, 30 fps, 2 signs, every 12th frame of
seeds 0-3, legible (not ``dont_care``) words read exactly, case and punctuation ignored:

==========  ======  ======  ======  ======
difficulty  pan     zoom    shake   walk
==========  ======  ======  ======  ======
easy        100%    99%     100%    100%
medium      30%     71%     92%     72%
hard        0%      36%     35%     35%
==========  ======  ======  ======  ======

Pan is the hardest motion: its horizontal motion blur (3-6 px at medium) smears letters that are
only 11-18 px high at 640x360 (text size is a share of frame height, as for still scenes).

Ground truth per frame (``VideoFrameTruth``): every word whose quad meets the frame, its quad mapped
by the frame's homography (exposure centre), in sign order left to right, then reading order; words
entirely outside are left out; a word partly outside, or more than half hidden by an occluder, is
``dont_care``. A sign is visible when at least one of its words is wholly inside the frame;
``source_text`` joins the visible signs' whole phrases (left to right, by the board's centre) and
``reference_translation`` their translations (None when no sign is visible). ``sign_ids`` names each
word's sign ("s0", "s1", ... left to right in the world), parallel to ``ground_truth.words``.

Random streams, all ``numpy.random.default_rng([seed, VIDEO_TAG, stream, ...])``: the world (stream 0:
phrases, fonts, colours, walls, placement) and its occluders (1) depend on the seed only, so every
motion films the same street and every difficulty shows the same phrases, fonts and walls (sizes,
light and occluders follow the difficulty); the camera (2, motion) does not depend on difficulty
either; the sensor noise of frame i is (3, motion, i). Same options, same bytes, on the same library
versions and fonts; no global state, no clock.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from harness.errors import ConfigError
from harness.sources import synth_camera as camera
from harness.sources import synth_render as render
from harness.sources import synth_world as world_mod
from harness.sources.base import SourceBase
from harness.sources.files import replay_rendered
from harness.sources.synthetic import PNG_PARAMS, REALISM, TARGET_LANGS, Interval, Realism, entries_for
from harness.types import Frame, GroundTruth, GroundTruthWord, quad_from_array

__all__ = ["VIDEO_REALISM", "SyntheticVideoOptions", "SyntheticVideoSource", "VideoFrameTruth", "generate_video", "write_synthetic_video"]

VIDEO_TAG = 0x5649
MAX_FRAMES = 3600
MAX_SIGNS = 6


@dataclass(frozen=True)
class VideoRealism:
    """The motion knobs of one difficulty (see the module docstring)."""

    exposure_frac: Interval
    shake_scale: float


VIDEO_REALISM = MappingProxyType(
    {
        "easy": VideoRealism(Interval(0.1, 0.25), 1.0),
        "medium": VideoRealism(Interval(0.3, 0.5), 1.6),
        "hard": VideoRealism(Interval(0.45, 0.7), 2.2),
    }
)


@dataclass(frozen=True)
class SyntheticVideoOptions:
    """What to film: ``duration_s`` of ``motion`` at ``fps``, ``width_px`` x ``height_px``, over ``signs`` signs.

    ``loop`` makes ``SyntheticVideoSource.frames()`` replay the video forever. Pre-rendered frames take
    width x height x 3 bytes each (0.7 MB at 640x360).
    """

    seed: int = 0
    motion: str = "pan"
    fps: float = 30.0
    duration_s: float = 4.0
    width_px: int = 640
    height_px: int = 360
    difficulty: str = "easy"
    signs: int = 2
    target_lang: str = "es"
    loop: bool = False

    def __post_init__(self) -> None:
        _check_choice("motion", self.motion, camera.MOTIONS)
        _check_choice("difficulty", self.difficulty, tuple(REALISM))
        _check_choice("target_lang", self.target_lang, TARGET_LANGS)
        if self.seed < 0:
            raise ConfigError(f"synthetic video seed must be >= 0, not {self.seed}")
        if not 0 < self.fps <= 240:
            raise ConfigError(f"synthetic video fps must be in (0, 240], not {self.fps}")
        if not 1 <= self.frame_count <= MAX_FRAMES:
            raise ConfigError(f"synthetic video duration_s x fps must give 1 to {MAX_FRAMES} frames, not {self.duration_s} s x {self.fps}")
        if not (160 <= self.width_px <= 1280 and 120 <= self.height_px <= 720):
            raise ConfigError(
                f"synthetic video width_px x height_px must be within 160x120 to 1280x720, not {self.width_px}x{self.height_px}"
            )
        if not 1 <= self.signs <= MAX_SIGNS:
            raise ConfigError(f"synthetic video signs must be 1 to {MAX_SIGNS}, not {self.signs}")

    @property
    def frame_count(self) -> int:
        """Frames in the video: ``round(fps * duration_s)``."""
        return round(self.fps * self.duration_s)


def _check_choice(field: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"synthetic video {field} must be one of {', '.join(valid)}, not {value!r}")


@dataclass(frozen=True)
class VideoFrameTruth:
    """Ground truth of one video frame; ``sign_ids`` is parallel to ``ground_truth.words``.

    ``homography`` maps world pixels to this frame's pixels (row-major 3x3, at the exposure centre);
    ``visible_signs`` are the signs whose phrases make ``source_text``, left to right.
    """

    frame_index: int
    t_s: float
    ground_truth: GroundTruth
    sign_ids: tuple[str, ...]
    visible_signs: tuple[str, ...]
    homography: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class _Film:
    """Everything drawn before the first frame: the world, the camera path, the exposure and the sensor."""

    world: world_mod.World
    path: Callable[[float], camera.CameraPose]
    exposure_s: float
    sensor: render.Degradation


def _stream(options: SyntheticVideoOptions, *words: int) -> np.random.Generator:
    return np.random.default_rng([options.seed, VIDEO_TAG, *words])


def _prepare(options: SyntheticVideoOptions) -> _Film:
    knobs, motion_knobs = REALISM[options.difficulty], VIDEO_REALISM[options.difficulty]
    rng = _stream(options, 0)
    entries = entries_for(options.target_lang)
    chosen = tuple(entries[int(k)] for k in rng.choice(len(entries), size=options.signs, replace=False))
    sensor = _sensor(knobs, rng)
    style = world_mod.SignStyle(
        text_height_frac=knobs.text_height_frac.sample,
        tilt_deg=lambda r: 0.5 * knobs.tilt_deg.sample(r),
        rotation_deg=lambda r: 0.5 * knobs.rotation_deg.sample_signed(r),
        light=sensor,
        occlusion=lambda r: _occlusion_frac(knobs, r),
    )
    frame_size = (options.width_px, options.height_px)
    world = world_mod.build_world(frame_size, chosen, options.target_lang, style, rng, _stream(options, 1))
    motion_index = camera.MOTIONS.index(options.motion)
    camera_rng = _stream(options, 2, motion_index)
    exposure_s = motion_knobs.exposure_frac.sample(camera_rng) / options.fps
    path = camera.camera_path(options.motion, world.layout, options.duration_s, motion_knobs.shake_scale, camera_rng)
    return _Film(world, path, exposure_s, sensor)


def _sensor(knobs: Realism, rng: np.random.Generator) -> render.Degradation:
    """The video's light and sensor; a fixed number of draws, so the world drawn next is the same at every difficulty."""
    shadowed = rng.random() < knobs.shadow_chance
    return render.Degradation(
        motion_blur_px=0.0,  # comes from the camera's motion instead
        defocus_sigma_px=knobs.defocus_sigma_px.sample(rng),
        noise_sigma=knobs.noise_sigma.sample(rng),
        jpeg_quality=round(knobs.jpeg_quality.sample(rng)),
        lighting_strength=knobs.lighting_strength.sample(rng),
        shadow_strength=knobs.shadow_strength.sample(rng) * shadowed,
    )


def _occlusion_frac(knobs: Realism, rng: np.random.Generator) -> float:
    """The share of one board to hide: two draws per sign always, so later signs do not depend on it."""
    occluded, frac = rng.random() < knobs.occlusion_chance, knobs.occlusion_frac.sample(rng)
    return frac if occluded else 0.0


def generate_video(options: SyntheticVideoOptions) -> Iterator[tuple[np.ndarray, VideoFrameTruth]]:
    """Render the video frame by frame: a BGR uint8 HxWx3 image and its ground truth."""
    return _film_frames(options, _prepare(options))


def _film_frames(options: SyntheticVideoOptions, film: _Film) -> Iterator[tuple[np.ndarray, VideoFrameTruth]]:
    motion_index = camera.MOTIONS.index(options.motion)
    frame_size = (options.width_px, options.height_px)
    layout = film.world.layout

    def at(t_s: float) -> np.ndarray:
        return camera.homography(film.path(t_s), layout)

    for index in range(options.frame_count):
        t_s = index / options.fps
        homographies = world_mod.exposure_homographies(at, t_s, film.exposure_s, frame_size)
        image = world_mod.photograph(film.world, homographies, film.path(t_s).zoom, film.sensor, _stream(options, 3, motion_index, index))
        yield image, _frame_truth(film.world, at(t_s), index, t_s)


def _frame_truth(world: world_mod.World, homography: np.ndarray, index: int, t_s: float) -> VideoFrameTruth:
    width, height = world.layout.frame_size_px
    frame = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]], np.float32)
    seen = []  # (board centre x in the frame, sign, words, wholly visible)
    for sign in world.signs:
        words, whole = [], False
        for text, quad, hidden in zip(sign.words, sign.word_quads, sign.word_hidden, strict=True):
            mapped = _map(quad, homography)
            inside = bool((mapped >= frame[0]).all() and (mapped <= frame[2]).all())
            if inside or cv2.intersectConvexConvex(mapped.astype(np.float32), frame)[0] > 0:
                words.append(GroundTruthWord(quad_from_array(np.round(mapped, 2)), text, dont_care=hidden or not inside))
                whole = whole or inside
        if words:
            seen.append((float(_map(sign.board_quad, homography)[:, 0].mean()), sign, words, whole))
    seen.sort(key=lambda item: item[0])
    visible = [sign for _, sign, _, whole in seen if whole]
    truth = GroundTruth(
        tuple(word for _, _, words, _ in seen for word in words),
        " ".join(" ".join(sign.words) for sign in visible),
        " ".join(sign.translation or "" for sign in visible) if visible else None,
    )
    sign_ids = tuple(sign.id for _, sign, words, _ in seen for _ in words)
    matrix = tuple(tuple(float(f"{v:.10g}") for v in row) for row in homography)
    return VideoFrameTruth(index, t_s, truth, sign_ids, tuple(sign.id for sign in visible), matrix)  # type: ignore[arg-type]


def _map(quad: np.ndarray, homography: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(quad.reshape(-1, 1, 2), homography).reshape(-1, 2)


class SyntheticVideoSource(SourceBase):
    """Frames of a pre-rendered synthetic video; rendering happens in ``open()``, not in capture.

    ``fps`` is the video's frame rate (frames are yielded as fast as they are taken, not paced).
    Each frame carries a fresh copy of its pixels, so downstream stages may draw on ``Frame.image``.
    """

    timed = True  # at its options' fps

    def __init__(self, options: SyntheticVideoOptions, context: object = None) -> None:
        self.options = options
        self.name = f"synthvideo:{options.motion}:{options.difficulty}:seed{options.seed}"
        self.fps = float(options.fps)
        self._frames: tuple[tuple[np.ndarray, VideoFrameTruth], ...] = ()

    def open(self) -> None:
        """Render every frame into memory."""
        self._frames = tuple(generate_video(self.options))

    def frames(self) -> Iterator[Frame]:
        """Frames in order, once, or cycling forever when ``options.loop``; frame ids keep increasing."""
        if not self._frames:
            raise RuntimeError("SyntheticVideoSource.frames() called before open()")
        rendered = [(image, truth.ground_truth) for image, truth in self._frames]
        return replay_rendered(rendered, self.name, "frame_{:05d}", self.options.loop)

    def close(self) -> None:
        """Drop the rendered frames."""
        self._frames = ()


def write_synthetic_video(options: SyntheticVideoOptions, out_dir: Path) -> Path:
    """Write the video into ``out_dir`` and return the path of ``video.avi``.

    ``frames/frame_00000.png``...: the lossless frames, byte-identical for the same options;
    ``video.avi``: the same frames as Motion-JPEG at ``options.fps``, for players and the ``video``
    source; ``ground_truth.jsonl``: one line per frame (``file`` is the name inside ``frames/``);
    ``video.json``: the options, frame count and the signs in world pixels.
    """
    out_dir = Path(out_dir)
    (out_dir / "frames").mkdir(parents=True, exist_ok=True)
    avi = out_dir / "video.avi"
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), float(options.fps), (options.width_px, options.height_px))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write Motion-JPEG AVI {avi}")
    lines = []
    film = _prepare(options)
    try:
        for image, truth in _film_frames(options, film):
            name = f"frame_{truth.frame_index:05d}.png"
            if not cv2.imwrite(str(out_dir / "frames" / name), image, list(PNG_PARAMS)):
                raise OSError(f"cannot write {out_dir / 'frames' / name}")
            writer.write(image)
            lines.append(json.dumps(_truth_record(name, truth), ensure_ascii=False))
    finally:
        writer.release()
    (out_dir / "ground_truth.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "video.json").write_text(json.dumps(_manifest(options, film.world), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return avi


def _truth_record(file_name: str, truth: VideoFrameTruth) -> dict[str, object]:
    words = [
        {"quad": [list(corner) for corner in word.quad], "text": word.text, "sign_id": sign_id, "dont_care": word.dont_care}
        for word, sign_id in zip(truth.ground_truth.words, truth.sign_ids, strict=True)
    ]
    return {
        "frame": truth.frame_index,
        "file": file_name,
        "t_s": truth.t_s,
        "source_text": truth.ground_truth.source_text,
        "reference_translation": truth.ground_truth.reference_translation,
        "visible_signs": list(truth.visible_signs),
        "homography": [list(row) for row in truth.homography],
        "words": words,
    }


def _manifest(options: SyntheticVideoOptions, world: world_mod.World) -> dict[str, object]:
    signs = [
        {
            "id": s.id,
            "phrase_id": s.entry.id,
            "text": " ".join(s.words),
            "translation": s.translation,
            "board_quad": np.round(s.board_quad, 2).tolist(),
        }
        for s in world.signs
    ]
    return {
        "format": "arbench-synthvideo",
        "version": 1,
        "options": dataclasses.asdict(options),
        "frame_count": options.frame_count,
        "world_size_px": list(world.layout.world_size_px),
        "signs": signs,
    }


def preflight(options: object, context: object) -> None:
    """Before a run: the fonts the scenes are drawn with are installed (rendering waits for the worker)."""
    from harness.sources.synth_render import available_fonts

    available_fonts()
