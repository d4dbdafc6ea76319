"""Latency statistics: percentiles and a distribution-free confidence interval for the median."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LatencyStats", "estimable", "latency_stats", "median_ci", "min_frames"]


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


def median_ci(values_ms: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free CI of the median from order statistics (binomial, exact for any n).

    The interval [x_(k), x_(n-k+1)] of the sorted sample covers the true median with probability
    1 - 2 P(Binomial(n, 1/2) < k); k is the largest rank that keeps this at or above ``confidence``.
    Below 6 values no rank reaches 95%, and the interval is NaN rather than a false precision.
    """
    values = np.sort(np.asarray(values_ms, dtype=float))
    n = len(values)
    alpha = 1.0 - confidence
    k, tail = 0, 0.0
    while k < n // 2:
        next_tail = tail + _binomial_half(n, k)  # P(B < k + 1)
        if 2 * next_tail > alpha:
            break
        tail, k = next_tail, k + 1
    if k == 0:
        return float("nan"), float("nan")
    return float(values[k - 1]), float(values[n - k])


def _binomial_half(n: int, k: int) -> float:
    """P(Binomial(n, 1/2) = k), in log space so large n does not overflow."""
    return math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2.0))


def min_frames(q: float) -> int:
    """Frames needed before the q-th percentile has a frame above it (p90: 10, p99: 100)."""
    return math.ceil(100 / (100 - q) - 1e-9)


def estimable(q: float, n: int) -> bool:
    """Whether n frames estimate the q-th percentile; a tail percentile below ``min_frames(q)`` is just the slowest frame.

    The median is always given (one frame's median is that frame).
    """
    return n >= 1 if q <= 50 else n >= min_frames(q)


def latency_stats(values_ms: np.ndarray) -> LatencyStats:
    """Statistics of a sample of durations in ms (linear-interpolated percentiles; p90/p99 NaN where not ``estimable``)."""
    values = np.asarray(values_ms, dtype=float)
    if len(values) == 0:
        nan = float("nan")
        return LatencyStats(0, nan, nan, nan, nan, nan, nan, nan)
    p50 = float(np.percentile(values, 50))
    p90, p99 = (float(np.percentile(values, q)) if estimable(q, len(values)) else float("nan") for q in (90, 99))
    low, high = median_ci(values)
    mean = float(values.mean())
    return LatencyStats(len(values), mean, float(p50), float(p90), float(p99), low, high, 1000.0 / mean if mean > 0 else float("inf"))
