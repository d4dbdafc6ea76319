"""A one-line progress display with an ETA, on stderr.

On a terminal the line is redrawn in place; elsewhere (CI, a log file) one line is printed per
configuration when it ends, so logs stay short.
"""

from __future__ import annotations

import math
import sys
from typing import TextIO

from harness.run.experiment import RunSettings

__all__ = ["Progress", "eta_s"]


def eta_s(settings: RunSettings, measured: int, elapsed_s: float, warmup_left: int) -> float:
    """Seconds until the stopping rule is expected to fire, from the mean frame time so far."""
    if measured == 0:
        return float("nan")
    per_frame = elapsed_s / measured
    frames_needed = max(settings.min_frames, settings.min_duration_s / per_frame if per_frame > 0 else 0.0)
    finish = min(frames_needed * per_frame, settings.max_frames * per_frame, settings.max_duration_s)
    return max(0.0, finish - elapsed_s) + warmup_left * per_frame


class Progress:
    """Shows which configuration runs, frames done, elapsed time and ETA."""

    def __init__(self, label: str, settings: RunSettings, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.settings = settings
        self.stream = stream
        self.live = stream.isatty()

    def update(self, warmup_done: int, measured: int, elapsed_s: float) -> None:
        """Redraw the line (terminals only)."""
        if not self.live:
            return
        warmup_left = self.settings.warmup_frames - warmup_done
        eta = eta_s(self.settings, measured, elapsed_s, warmup_left)
        eta_text = "?" if math.isnan(eta) else f"{eta:5.1f}s"
        phase = f"warm-up {warmup_done}/{self.settings.warmup_frames}" if warmup_left > 0 else f"frames {measured}"
        self.stream.write(f"\r{self.label}  {phase}  {elapsed_s:6.1f}s  ETA {eta_text}   ")
        self.stream.flush()

    def finish(self, message: str) -> None:
        """End the line with a final message."""
        prefix = "\r" if self.live else ""
        self.stream.write(f"{prefix}{self.label}  {message}\n")
        self.stream.flush()
