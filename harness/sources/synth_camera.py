"""Hand-held camera paths over a flat synthetic street: one world-to-frame homography per instant.

A pose says which world point the camera looks at, how large the world appears (``zoom``: frame
pixels per world pixel for a frontal view) and how the phone is turned (roll, yaw, pitch). The
homography is that of a pinhole camera (focal length = frame width) rotating in front of the wall:
``K R K^-1`` after a similarity that brings the look-at point to the frame centre; a final shift puts
the look-at point at the frame centre plus the pose's offset, so turning the phone does not lose the
sign. Paths are continuous functions of time, so motion blur can sample them inside an exposure.

Motions (all random parameters are drawn once, when the path is made):

- ``pan``: the camera tracks along the street from the world's left end towards its right end in a
  cosine-eased sweep of ``SWEEP_S`` = 6 s (peak speed about half a frame width per second; the default
  4 s video covers three quarters of the street, longer ones reach the end and come back); no
  horizontal jitter, so content moves monotonically left within a sweep; slow vertical drift and a
  small roll wobble.
- ``zoom``: looks at one sign and zooms out and in, between 0.55-0.7 and the zoom at which the sign
  fills the frame (at least 1.2, at most ``MAX_ZOOM``), with a 3-5 s period, plus light tremor.
- ``shake``: looks at one sign and holds still, badly: smooth tremor in translation and rotation from
  sinusoids of 1-3 Hz with jittered amplitude, scaled by difficulty.
- ``walk``: approaches one sign over the whole video (zoom grows as 1/distance from 0.55-0.7 to the
  sign filling 80-100% of the frame, at most ``MAX_ZOOM``), starting off to the side with the phone
  turned 8-16 degrees and ending almost frontal, with step bob (1.7-2.1 Hz) and sway.

Every pose is pushed back inside the world if the frame would see past its edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["MOTIONS", "CameraPose", "SceneLayout", "Tremor", "camera_path", "homography"]

MOTIONS = ("pan", "zoom", "shake", "walk")
MAX_ZOOM = 2.4  # a phone's digital zoom; beyond the world's 2x supersampling letters soften anyway
SWEEP_S = 6.0  # duration of one pan sweep across the world: peak speed about half a frame width per second


@dataclass(frozen=True)
class CameraPose:
    """Where the camera looks at one instant; world and frame coordinates are pixels."""

    look_x: float
    look_y: float
    zoom: float
    roll_deg: float = 0.0
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    offset_x_px: float = 0.0
    offset_y_px: float = 0.0


@dataclass(frozen=True)
class SceneLayout:
    """What a camera path needs to know about the world: its size and each sign's centre and width."""

    world_size_px: tuple[float, float]
    frame_size_px: tuple[int, int]
    sign_centres: tuple[tuple[float, float], ...]
    sign_widths_px: tuple[float, ...]


class Tremor:
    """A smooth random signal of unit scale: sinusoids of 1-3 Hz whose amplitudes drift slowly."""

    def __init__(self, rng: np.random.Generator, components: int = 3, low_hz: float = 1.0, high_hz: float = 3.0) -> None:
        self._freq_hz = rng.uniform(low_hz, high_hz, components)
        self._phase = rng.uniform(0, 2 * math.pi, components)
        self._weight = rng.uniform(0.5, 1.0, components)
        self._weight /= self._weight.sum()
        self._drift_hz = rng.uniform(0.15, 0.5, components)
        self._drift_phase = rng.uniform(0, 2 * math.pi, components)

    def __call__(self, t_s: float) -> float:
        """The signal at time ``t_s``, within [-1, 1]."""
        amplitude = self._weight * (0.75 + 0.25 * np.sin(2 * math.pi * self._drift_hz * t_s + self._drift_phase))
        return float(np.sum(amplitude * np.sin(2 * math.pi * self._freq_hz * t_s + self._phase)))


def homography(pose: CameraPose, layout: SceneLayout) -> np.ndarray:
    """The 3x3 world-to-frame homography for ``pose``, moved so the frame sees only the world."""
    pose = _keep_inside(pose, layout)
    return _matrix(pose, layout.frame_size_px)


def camera_path(
    motion: str, layout: SceneLayout, duration_s: float, shake_scale: float, rng: np.random.Generator
) -> Callable[[float], CameraPose]:
    """A camera path for ``motion``: a function from time (s) to pose. ``shake_scale`` sizes tremor (1: easy)."""
    return _PATHS[motion](layout, duration_s, shake_scale, rng)


def _matrix(pose: CameraPose, frame_size_px: tuple[int, int]) -> np.ndarray:
    width, height = frame_size_px
    focal = float(width)
    roll, yaw, pitch = (math.radians(v) for v in (pose.roll_deg, pose.yaw_deg, pose.pitch_deg))
    rotation = _about_z(roll) @ _about_y(yaw) @ _about_x(pitch)
    k, k_inv = np.diag([focal, focal, 1.0]), np.diag([1 / focal, 1 / focal, 1.0])
    centred = np.array([[pose.zoom, 0, -pose.zoom * pose.look_x], [0, pose.zoom, -pose.zoom * pose.look_y], [0, 0, 1]])
    turned = k @ rotation @ k_inv @ centred
    look = turned @ np.array([pose.look_x, pose.look_y, 1.0])
    target = ((width - 1) / 2 + pose.offset_x_px, (height - 1) / 2 + pose.offset_y_px)
    shift = np.array([[1, 0, target[0] - look[0] / look[2]], [0, 1, target[1] - look[1] / look[2]], [0, 0, 1]])
    matrix = shift @ turned
    return matrix / matrix[2, 2]


def _about_x(a: float) -> np.ndarray:
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def _about_y(a: float) -> np.ndarray:
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def _about_z(a: float) -> np.ndarray:
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def _footprint(pose: CameraPose, frame_size_px: tuple[int, int]) -> np.ndarray:
    """The world points the frame's corners see (4x2)."""
    width, height = frame_size_px
    corners = np.array([[-0.5, -0.5, 1], [width - 0.5, -0.5, 1], [width - 0.5, height - 0.5, 1], [-0.5, height - 0.5, 1]])
    world = corners @ np.linalg.inv(_matrix(pose, frame_size_px)).T
    return world[:, :2] / world[:, 2:]


def _keep_inside(pose: CameraPose, layout: SceneLayout, margin_px: float = 2.0) -> CameraPose:
    """Zoom in until the footprint fits the world, then slide the look-at point until it lies inside."""
    world = np.array(layout.world_size_px) - 1 - 2 * margin_px
    for _ in range(8):
        span = np.ptp(_footprint(pose, layout.frame_size_px), axis=0)
        if (span <= world).all():
            break
        pose = replace(pose, zoom=pose.zoom * float(np.max(span / world)) * 1.01)
    low = _footprint(pose, layout.frame_size_px).min(axis=0) - margin_px
    high = _footprint(pose, layout.frame_size_px).max(axis=0) - world - margin_px
    shift = np.maximum(-low, 0) - np.maximum(high, 0)
    return replace(pose, look_x=pose.look_x + float(shift[0]), look_y=pose.look_y + float(shift[1]))


# --- the four motions ---------------------------------------------------------------------------------


def _pick_sign(layout: SceneLayout, rng: np.random.Generator) -> tuple[float, float, float]:
    index = int(rng.integers(len(layout.sign_centres)))
    return (*layout.sign_centres[index], layout.sign_widths_px[index])


def _fill_zoom(layout: SceneLayout, sign_width_px: float, fill: float) -> float:
    """The zoom at which the sign spans ``fill`` of the frame width, at most ``MAX_ZOOM``."""
    return min(MAX_ZOOM, fill * layout.frame_size_px[0] / max(sign_width_px, 1.0))


def _pan(layout: SceneLayout, duration_s: float, shake: float, rng: np.random.Generator) -> Callable[[float], CameraPose]:
    width, height = layout.frame_size_px
    zoom = float(rng.uniform(0.9, 1.05))
    half_view = width / (2 * zoom)
    start, end = half_view + 4, layout.world_size_px[0] - half_view - 4
    look_y = float(np.mean([c[1] for c in layout.sign_centres]))
    drift_px, drift_hz, drift_phase = (
        float(rng.uniform(0.01, 0.03)) * height,
        float(rng.uniform(0.1, 0.3)),
        float(rng.uniform(0, 2 * math.pi)),
    )
    roll_deg, wobble = float(rng.uniform(-1.5, 1.5)), Tremor(rng)

    def pose(t_s: float) -> CameraPose:
        along = (1 - math.cos(math.pi * t_s / SWEEP_S)) / 2
        y = look_y + drift_px * math.sin(2 * math.pi * drift_hz * t_s + drift_phase) / zoom
        return CameraPose(start + (end - start) * along, y, zoom, roll_deg + 0.4 * shake * wobble(t_s))

    return pose


def _zoom(layout: SceneLayout, duration_s: float, shake: float, rng: np.random.Generator) -> Callable[[float], CameraPose]:
    x, y, sign_width = _pick_sign(layout, rng)
    low = math.log(float(rng.uniform(0.55, 0.7)))
    high = math.log(max(1.2, _fill_zoom(layout, sign_width, float(rng.uniform(0.85, 1.05)))))
    period_s, phase = float(rng.uniform(3, 5)), float(rng.uniform(0, 2 * math.pi))
    dx, dy, roll = Tremor(rng), Tremor(rng), Tremor(rng)
    tremor_px = 2.0 * shake * layout.frame_size_px[0] / 640

    def pose(t_s: float) -> CameraPose:
        zoom = math.exp(low + (high - low) * (1 + math.sin(2 * math.pi * t_s / period_s + phase)) / 2)
        return CameraPose(x, y, zoom, 0.5 * shake * roll(t_s), offset_x_px=tremor_px * dx(t_s), offset_y_px=tremor_px * dy(t_s))

    return pose


def _shake(layout: SceneLayout, duration_s: float, shake: float, rng: np.random.Generator) -> Callable[[float], CameraPose]:
    x, y, sign_width = _pick_sign(layout, rng)
    zoom = min(float(rng.uniform(0.9, 1.15)), _fill_zoom(layout, sign_width, 0.85))
    dx, dy, roll, yaw, pitch = (Tremor(rng) for _ in range(5))
    tremor_px = 6.0 * shake * layout.frame_size_px[0] / 640

    def pose(t_s: float) -> CameraPose:
        turn = 0.8 * shake
        return CameraPose(x, y, zoom, 1.2 * shake * roll(t_s), turn * yaw(t_s), turn * pitch(t_s), tremor_px * dx(t_s), tremor_px * dy(t_s))

    return pose


def _walk(layout: SceneLayout, duration_s: float, shake: float, rng: np.random.Generator) -> Callable[[float], CameraPose]:
    x, y, sign_width = _pick_sign(layout, rng)
    side = 1 if rng.random() < 0.5 else -1
    first = float(rng.uniform(0.55, 0.7))
    last = max(first * 1.5, _fill_zoom(layout, sign_width, float(rng.uniform(0.8, 1.0))))
    lateral_px = side * float(rng.uniform(0.1, 0.25)) * layout.frame_size_px[0] / first
    yaw0 = side * float(rng.uniform(8, 16))
    step_hz, sway_phase = float(rng.uniform(1.7, 2.1)), float(rng.uniform(0, 2 * math.pi))
    bob_px = float(rng.uniform(0.008, 0.015)) * layout.frame_size_px[1] * (0.5 + 0.5 * shake)
    dx, dy = Tremor(rng), Tremor(rng)

    def pose(t_s: float) -> CameraPose:
        progress = min(max(t_s / duration_s, 0.0), 1.0)
        distance = 1 - (1 - first / last) * progress  # zoom ~ 1 / distance from the sign
        step = 2 * math.pi * step_hz * t_s
        return CameraPose(
            x + lateral_px * (1 - progress),
            y,
            first / distance,
            roll_deg=0.8 * math.sin(step / 2 + sway_phase),
            yaw_deg=yaw0 * (1 - 0.8 * progress),
            pitch_deg=0.4 * math.sin(step),
            offset_x_px=0.6 * bob_px * math.sin(step / 2 + sway_phase) + shake * dx(t_s),
            offset_y_px=bob_px * math.sin(step) + shake * dy(t_s),
        )

    return pose


_PATHS = {"pan": _pan, "zoom": _zoom, "shake": _shake, "walk": _walk}
