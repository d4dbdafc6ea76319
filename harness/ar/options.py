"""Options of the real-time AR mode: one ``[[ar]]`` entry of an experiment, i.e. one re-OCR policy.

An experiment with ``[[ar]]`` entries runs every source × OCR × MT cell once per entry (config id
``source/ocr/mt/ar-id``); see docs/ar.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import ConfigError

__all__ = ["POLICIES", "ArOptions", "TrackerOptions"]

POLICIES = ("per-frame", "every-n", "confidence", "budget")


@dataclass(frozen=True)
class TrackerOptions:
    """Sparse optical flow (pyramidal Lucas-Kanade) and the RANSAC homography fitted to it.

    ``window_px``/``pyramid_levels``: LK search window and pyramid depth (one frame's motion it
    can follow is about window/2 x 2^levels: 15 px and 3 levels ≈ 60 px). ``fb_error_px``: forward-backward error above
    which a point is dropped. ``margin_frac``: the region's quad grown by this share of its height before
    features are picked (the sign board around the letters). ``max_scale_step``: the most a quad's area may
    change from one frame to the next before the update is rejected as implausible. ``min_survival``: the
    share of a point set that must come through a frame (flowed, checked and a RANSAC inlier) for the
    update to count; less means the view changed too much to follow (a cut, a blur, a blank wall).
    """

    window_px: int = 15
    pyramid_levels: int = 3
    fb_error_px: float = 1.0
    ransac_px: float = 2.0
    min_points: int = 6
    points_per_region: int = 60
    points_per_frame: int = 300
    quality: float = 0.01
    min_distance_px: float = 4.0
    margin_frac: float = 1.0
    reseed_frac: float = 0.5
    max_residual_px: float = 3.0
    max_scale_step: float = 1.3
    min_survival: float = 0.3

    def __post_init__(self) -> None:
        if self.window_px < 5 or self.pyramid_levels < 0 or self.min_points < 4 or self.points_per_region < self.min_points:
            raise ConfigError("[[ar]] tracker: need window_px >= 5, pyramid_levels >= 0, min_points >= 4, points_per_region >= min_points")
        if self.max_scale_step <= 1 or not 0 < self.reseed_frac <= 1:
            raise ConfigError("[[ar]] tracker: need max_scale_step > 1 and 0 < reseed_frac <= 1")


@dataclass(frozen=True)
class ArOptions:
    """One re-OCR policy and its knobs.

    - ``per-frame``: the plain pipeline (OCR + MT + overlay on every frame it gets), the baseline.
    - ``every-n``: a keyframe every ``every_n_frames`` frames.
    - ``confidence``: a keyframe when tracking weakens: a region lost or its inlier ratio under
      ``min_inlier_ratio`` or its residual over ``max_residual_px``, a region leaving the view, more than
      ``new_area_frac`` of the frame not seen at the last keyframe (text may have entered), the scale
      changed by ``scale_change``× since it (text may now be legible), or nothing tracked for
      ``empty_retry_frames`` frames.
    - ``budget``: OCR + MT may use ``frame_budget_ms`` of each frame on average: a keyframe when the
      budget saved since the last one covers the measured cost of a keyframe (its running mean).

    Every tracking policy also re-reads after ``max_interval_frames`` (0: never) and falls back to
    per-frame processing while tracking fails (``fallback_after_frames`` failed frames in a row).
    ``background``: OCR + MT of keyframes run on a worker thread while tracking goes on (as AR apps do);
    off, a keyframe is processed inline and holds up its frame. ``worker_nice``: the worker thread's
    niceness increment (Linux threads have their own), so tracking keeps the CPU it needs; it applies to
    the OCR's compute only when the OCR runs in the calling thread (``threads = 1``), see docs/ar.md.
    ``start_inline``: the first keyframe is read inline, so that (like per-frame, whose warm-up frame is
    read and shown) measurement after a one-frame warm-up starts with a reading on show; off, the first
    reading also goes to the worker and the app's cold start is measured.
    """

    policy: str = "confidence"
    background: bool = True
    every_n_frames: int = 15
    min_inlier_ratio: float = 0.4
    max_residual_px: float = 1.5
    new_area_frac: float = 0.15
    scale_change: float = 1.3
    empty_retry_frames: int = 15
    frame_budget_ms: float = 10.0
    max_interval_frames: int = 150
    fallback_after_frames: int = 2
    cache_keyframes: int = 1000
    worker_nice: int = 0
    start_inline: bool = True
    tracker: TrackerOptions = field(default_factory=TrackerOptions)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigError(f"[[ar]] policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.every_n_frames < 1 or self.empty_retry_frames < 1 or self.max_interval_frames < 0 or self.fallback_after_frames < 1:
            raise ConfigError("[[ar]]: need every_n_frames, empty_retry_frames, fallback_after_frames >= 1 and max_interval_frames >= 0")
        if self.frame_budget_ms <= 0 or self.new_area_frac <= 0 or self.scale_change <= 1 or self.cache_keyframes < 1:
            raise ConfigError("[[ar]]: need frame_budget_ms > 0, new_area_frac > 0, scale_change > 1 and cache_keyframes >= 1")

    @property
    def tracking(self) -> bool:
        """False for the per-frame baseline."""
        return self.policy != "per-frame"
