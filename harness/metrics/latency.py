"""Latency statistics: percentiles and a distribution-free confidence interval for the median."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CI_METHODS",
    "MIN_CI_FRAMES",
    "STATISTICS",
    "LatencyStats",
    "cluster_bootstrap",
    "clustered_median_ci",
    "estimable",
    "latency_stats",
    "median_ci",
    "min_frames",
    "repeats",
]


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
    p50_ci_method: str | None  # a key of CI_METHODS; None where no interval exists (too few values or frames)
    fps: float


# How a CI of the median was made: the key is what summary.csv's ``p50_ci_method`` holds.
CI_METHODS = {
    "order_statistics": "order statistics (distribution-free, binomial)",
    "frame_bootstrap": "bootstrap over frames (a frame's readings drawn together)",
}


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


STATISTICS = ("mean", "median")
MIN_CI_FRAMES = 6  # below this no order-statistic 95% interval of the median exists, nor enough distinct frame resamples


def cluster_bootstrap(
    samples: Sequence[tuple[np.ndarray, Sequence[Hashable]]], statistic: str = "median", resamples: int = 2000, seed: int = 0
) -> list[np.ndarray]:
    """Bootstrap estimates of the median or mean of each sample, drawing whole clusters (all readings of one frame).

    ``samples``: (values, cluster of each value). Each resample draws as many clusters as the samples hold
    together, with replacement, and every sample is weighted by the same draw: samples that read the same
    frames (two configurations, two runs) are thus resampled in step, and a frame's readings count as often
    as the frame was drawn. The median is that of the readings repeated by their weights (the midpoint of
    the two middle ones, as ``np.median``). Seeded: the same input gives the same estimates.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    index: dict[Hashable, int] = {}
    prepared = []
    for given, clusters in samples:
        values = np.asarray(given, dtype=float)
        if len(clusters) != len(values):
            raise ValueError(f"{len(values)} values but {len(clusters)} clusters")
        order = np.argsort(values, kind="stable")
        member = np.array([index.setdefault(c, len(index)) for c in clusters], dtype=int)[order]
        prepared.append((values[order], member))
    rng = np.random.default_rng(seed)
    estimates: list[list[np.ndarray]] = [[] for _ in prepared]
    for start in range(0, resamples, 250):  # in chunks: resamples × values weights at once would be large
        draws = rng.integers(0, len(index), size=(min(250, resamples - start), len(index)))
        counts = np.apply_along_axis(np.bincount, 1, draws, minlength=len(index))  # times each frame was drawn
        for out, (sorted_values, member) in zip(estimates, prepared, strict=True):
            weights = counts[:, member]  # of the sorted readings
            total = weights.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):  # a resample that drew none of this sample's frames: NaN
                if statistic == "mean":
                    out.append(np.where(total > 0, weights @ sorted_values / total, np.nan))
                    continue
                cumulative = np.cumsum(weights, axis=1)
                low = np.argmax(cumulative >= total[:, None] / 2, axis=1)
                high = np.argmax(cumulative > total[:, None] / 2, axis=1)
                out.append(np.where(total > 0, (sorted_values[low] + sorted_values[high]) / 2, np.nan))
    return [np.concatenate(out) for out in estimates]


def repeats(clusters: Sequence[Hashable] | None) -> bool:
    """Whether some cluster holds more than one reading (so readings are not independent)."""
    return clusters is not None and len(set(clusters)) < len(clusters)


def clustered_median_ci(
    values_ms: np.ndarray, clusters: Sequence[Hashable], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap CI of the median when values come in clusters (several readings of one frame).

    Whole clusters are resampled, so readings of the same frame count as one draw: the interval then
    covers frame-to-frame variation as an independent sample of frames would. Seeded; NaN below 6 clusters,
    as the order-statistic interval is below 6 values.
    """
    if len(set(clusters)) < MIN_CI_FRAMES:
        return float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    [estimates] = cluster_bootstrap([(np.asarray(values_ms, dtype=float), clusters)], "median", resamples, seed)
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def latency_stats(values_ms: np.ndarray, clusters: Sequence[Hashable] | None = None) -> LatencyStats:
    """Statistics of a sample of durations in ms (linear-interpolated percentiles; p90/p99 NaN where not ``estimable``).

    ``clusters`` (one key per value, e.g. the source frame): where a key repeats, the median's CI is a
    bootstrap over keys (``clustered_median_ci``) instead of the order-statistic interval, which assumes
    independent values, and p90/p99 need as many distinct keys as ``min_frames`` asks of values.
    """
    values = np.asarray(values_ms, dtype=float)
    if len(values) == 0:
        nan = float("nan")
        return LatencyStats(0, nan, nan, nan, nan, nan, nan, None, nan)
    p50 = float(np.percentile(values, 50))
    independent = len(set(clusters)) if repeats(clusters) else len(values)  # rounds: a frame's readings say little more of the tail
    p90, p99 = (float(np.percentile(values, q)) if estimable(q, independent) else float("nan") for q in (90, 99))
    low, high = clustered_median_ci(values, clusters) if repeats(clusters) else median_ci(values)  # type: ignore[arg-type]
    method = None if math.isnan(low) else "frame_bootstrap" if repeats(clusters) else "order_statistics"
    mean = float(values.mean())
    fps = 1000.0 / mean if mean > 0 else float("inf")
    return LatencyStats(len(values), mean, float(p50), float(p90), float(p99), low, high, method, fps)
