"""Latency statistics: percentiles and a bootstrap confidence interval for the median."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LatencyStats", "bootstrap_median_ci", "latency_stats"]

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261128


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one stage's durations, in milliseconds; ``fps`` = 1000 / mean."""

    n: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p50_ci_low_ms: float
    p50_ci_high_ms: float
    fps: float


def bootstrap_median_ci(values_ms: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap CI of the median, with a fixed seed so reports are reproducible."""
    if len(values_ms) < 2:
        value = float(values_ms[0]) if len(values_ms) else float("nan")
        return value, value
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    samples = values_ms[rng.integers(0, len(values_ms), size=(BOOTSTRAP_RESAMPLES, len(values_ms)))]
    medians = np.median(samples, axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return float(low), float(high)


def latency_stats(values_ms: np.ndarray) -> LatencyStats:
    """Statistics of a sample of durations in ms (linear-interpolated percentiles)."""
    values = np.asarray(values_ms, dtype=float)
    if len(values) == 0:
        nan = float("nan")
        return LatencyStats(0, nan, nan, nan, nan, nan, nan, nan)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    low, high = bootstrap_median_ci(values)
    mean = float(values.mean())
    return LatencyStats(len(values), mean, float(p50), float(p90), float(p99), low, high, 1000.0 / mean if mean > 0 else float("inf"))
