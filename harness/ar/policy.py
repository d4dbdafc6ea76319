"""Re-OCR policies: when the AR mode reads a new keyframe. A name → class registry; one small interface.

Each policy sees the frame's tracking ``Signals`` and returns why a keyframe is due (a short reason that
goes into the frame record) or None. Every tracking policy starts with a keyframe, and re-reads after
``max_interval_frames`` whatever else it says. The per-frame baseline has no policy: it reads every frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from harness.ar.options import ArOptions

__all__ = ["POLICY_CLASSES", "Policy", "Signals", "make_policy"]


@dataclass(frozen=True)
class Signals:
    """What tracking says about the current frame."""

    frames_since_keyframe: int  # frames since the last keyframe was taken (0 on that frame); -1 before the first
    regions: int  # regions tracked (shown) on this frame
    lost: int  # regions whose update failed on this frame
    weak: int  # regions tracked with a low inlier ratio or a high residual
    left_view: int  # regions dropped on this frame because they left the view
    new_area_frac: float  # share of the frame not seen in the last keyframe
    scale_change: float  # zoom since the last keyframe (>= 1, either way)
    keyframe_cost_ms: float | None  # running mean of a keyframe's OCR + MT time; None before the first
    period_ms: float  # the camera's frame interval (measured between arrivals)


class Policy(Protocol):
    """Decides whether a keyframe is due."""

    def reason(self, signals: Signals) -> str | None:
        """Why a keyframe is due now, or None."""
        ...


class EveryN:
    """A keyframe every ``every_n_frames`` frames."""

    def __init__(self, options: ArOptions) -> None:
        self.n = options.every_n_frames

    def reason(self, signals: Signals) -> str | None:
        return "every-n" if signals.frames_since_keyframe >= self.n else None


class Confidence:
    """A keyframe when tracking weakens, a region leaves, new area comes into view, or the scale changes."""

    def __init__(self, options: ArOptions) -> None:
        self.options = options

    def reason(self, signals: Signals) -> str | None:
        o = self.options
        checks = (
            ("lost", signals.lost > 0),
            ("weak", signals.weak > 0),
            ("left-view", signals.left_view > 0),
            ("new-area", signals.new_area_frac > o.new_area_frac),
            ("scale", signals.scale_change > o.scale_change),
            ("empty", signals.regions == 0 and signals.frames_since_keyframe >= o.empty_retry_frames),
        )
        return next((name for name, due in checks if due), None)


class Budget:
    """OCR + MT may use ``frame_budget_ms`` per frame on average: a keyframe once the saved budget pays for one."""

    def __init__(self, options: ArOptions) -> None:
        self.budget_ms = options.frame_budget_ms

    def reason(self, signals: Signals) -> str | None:
        cost = signals.keyframe_cost_ms or 0.0
        return "budget" if signals.frames_since_keyframe * self.budget_ms >= cost else None


POLICY_CLASSES: dict[str, type] = {"every-n": EveryN, "confidence": Confidence, "budget": Budget}


class _Guarded:
    """A policy plus the rules every tracking policy shares: a first keyframe, and a maximum interval."""

    def __init__(self, inner: Policy, max_interval: int) -> None:
        self.inner, self.max_interval = inner, max_interval

    def reason(self, signals: Signals) -> str | None:
        if signals.frames_since_keyframe < 0:
            return "start"
        if self.max_interval and signals.frames_since_keyframe >= self.max_interval:
            return "max-interval"
        return self.inner.reason(signals) if signals.frames_since_keyframe > 0 else None


def make_policy(options: ArOptions) -> Policy:
    """The policy ``options.policy`` names (a tracking policy; per-frame has none)."""
    return _Guarded(POLICY_CLASSES[options.policy](options), options.max_interval_frames)
