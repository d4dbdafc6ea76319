"""Intervals and tests for figures and comparisons: percentile bootstrap, Mann–Whitney U.

Latencies are skewed and often multimodal, so nothing here assumes normality. The bootstrap is seeded,
so a figure drawn twice from the same run is the same figure.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from harness.metrics.latency import cluster_bootstrap, repeats
from harness.report.columns import AccuracyMetric

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "bootstrap_ci",
    "difference_ci",
    "has_metric",
    "mann_whitney_p",
    "metric_ci",
    "metric_value",
    "paired_difference_ci",
    "per_frame_medians",
    "ratio_of_medians_ci",
]

BOOTSTRAP_RESAMPLES = 2000
ITEM_RESAMPLES = 1000  # for statistics computed in Python per resample (accuracy from counts)
CONFIDENCE = 0.95
NAN = float("nan")


def _resamples(values: np.ndarray, seed: int) -> np.ndarray:
    """BOOTSTRAP_RESAMPLES × n resampled copies of ``values`` (rows)."""
    rng = np.random.default_rng(seed)
    return values[rng.integers(0, len(values), size=(BOOTSTRAP_RESAMPLES, len(values)))]


def _interval(estimates: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.nanpercentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def _estimates(values: np.ndarray, statistic: str, seed: int, frames: Sequence[Hashable] | None) -> np.ndarray:
    """Bootstrap estimates of the statistic: readings drawn singly, or by frame where a frame has several (rounds)."""
    if repeats(frames):
        return cluster_bootstrap(values, frames, statistic, BOOTSTRAP_RESAMPLES, seed)  # type: ignore[arg-type]
    reduce = np.median if statistic == "median" else np.mean
    return reduce(_resamples(values, seed), axis=1)


def _units(values: np.ndarray, frames: Sequence[Hashable] | None) -> int:
    """How many independent draws a sample has: its frames where they repeat, else its readings."""
    return len(set(frames)) if repeats(frames) else len(values)  # type: ignore[arg-type]


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, statistic: str = "mean", seed: int = 0, frames: Sequence[Hashable] | None = None
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean or median of ``values``; NaNs below 2 values.

    ``frames`` (one key per value): where a key repeats (``[run] rounds`` read each frame again), whole
    frames are drawn, as readings of one frame are not independent.
    """
    data = np.asarray(values, dtype=float)
    if _units(data, frames) < 2:
        return NAN, NAN
    return _interval(_estimates(data, statistic, seed, frames))


def ratio_of_medians_ci(
    a: np.ndarray,
    b: np.ndarray,
    seed: int = 0,
    statistic: str = "median",
    frames: tuple[Sequence[Hashable] | None, Sequence[Hashable] | None] = (None, None),
) -> tuple[float, float]:
    """95% bootstrap interval of median(b) / median(a) (or of means).

    The two samples are resampled independently, each by frame where its ``frames`` repeat (``bootstrap_ci``).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if _units(a, frames[0]) < 2 or _units(b, frames[1]) < 2:
        return NAN, NAN
    with np.errstate(divide="ignore", invalid="ignore"):
        return _interval(_estimates(b, statistic, seed + 1, frames[1]) / _estimates(a, statistic, seed, frames[0]))


def _item_estimates(items: Sequence[Any], statistic: Callable[[Sequence[Any]], float], rng: np.random.Generator) -> np.ndarray:
    """``statistic`` over ITEM_RESAMPLES resamples of arbitrary per-frame items (a Python loop: keep n small)."""
    n = len(items)
    return np.array([statistic([items[i] for i in rng.integers(0, n, n)]) for _ in range(ITEM_RESAMPLES)])


def difference_ci(a: Sequence[Any], b: Sequence[Any], statistic: Callable[[Sequence[Any]], float], seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of statistic(b) − statistic(a) for per-frame items, resampled independently."""
    if len(a) < 2 or len(b) < 2:
        return NAN, NAN
    rng = np.random.default_rng(seed)
    return _interval(_item_estimates(b, statistic, rng) - _item_estimates(a, statistic, rng))


def paired_difference_ci(
    a: Sequence[Any], b: Sequence[Any], statistic: Callable[[Sequence[Any]], float], seed: int = 0
) -> tuple[float, float]:
    """95% bootstrap interval of statistic(b) − statistic(a) where ``a[i]`` and ``b[i]`` are the same frame.

    Each resample draws frame indices once and uses them on both sides, so differences between frames
    (one photo is harder than another) cancel and only the change between configurations remains.
    """
    if len(a) != len(b):
        raise ValueError("paired samples differ in length")
    if len(a) < 2:
        return NAN, NAN
    rng = np.random.default_rng(seed)
    n = len(a)
    estimates = []
    for _ in range(ITEM_RESAMPLES):
        picks = rng.integers(0, n, n)
        estimates.append(statistic([b[i] for i in picks]) - statistic([a[i] for i in picks]))
    return _interval(np.array(estimates))


def mann_whitney_p(
    a: np.ndarray, b: np.ndarray, frames: tuple[Sequence[Hashable] | None, Sequence[Hashable] | None] = (None, None)
) -> float:
    """Two-sided Mann–Whitney U p-value (scipy; asymptotic with tie correction above small n).

    Where a side's ``frames`` repeat (rounds), that side is tested as one value per frame, the median of its
    readings: the test assumes independent values.
    """
    from scipy.stats import mannwhitneyu

    a, b = per_frame_medians(a, frames[0]), per_frame_medians(b, frames[1])
    if len(a) < 2 or len(b) < 2:
        return NAN
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def per_frame_medians(values: np.ndarray, frames: Sequence[Hashable] | None) -> np.ndarray:
    """One value per frame (the median of its readings) where frames repeat; else the values as they are."""
    values = np.asarray(values, dtype=float)
    if not repeats(frames):
        return values
    groups: dict[Hashable, list[float]] = {}
    for value, frame in zip(values, frames, strict=True):  # type: ignore[arg-type]
        groups.setdefault(frame, []).append(float(value))
    return np.array([np.median(v) for v in groups.values()])


def metric_value(frames: Sequence[dict[str, Any]], metric: AccuracyMetric) -> float:
    """The metric over per-frame ``accuracy`` objects: a mean, a ratio of summed counts, or their hmean."""
    if metric.per_frame:
        values = [f[metric.column] for f in frames if f.get(metric.column) is not None]
        return float(np.mean(values)) if values else NAN
    hits = sum(f.get(metric.numerator, 0) for f in frames)
    ratios = []
    for key in metric.denominator:
        total = sum(f.get(key, 0) for f in frames)
        ratios.append(hits / total if total else NAN)
    if not metric.hmean:
        return ratios[0]
    recall, precision = ratios
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def has_metric(frames: Sequence[dict[str, Any]], metric: AccuracyMetric) -> bool:
    """True when some frame carries what ``metric`` is computed from."""
    key = metric.column if metric.per_frame else metric.numerator
    return any(f.get(key) is not None for f in frames)


def metric_ci(frames: Sequence[dict[str, Any]], metric: AccuracyMetric, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the metric, resampling frames."""
    if metric.per_frame:
        return bootstrap_ci([f[metric.column] for f in frames if f.get(metric.column) is not None], "mean", seed)
    if len(frames) < 2:
        return NAN, NAN
    return _interval(_item_estimates(frames, lambda fs: metric_value(fs, metric), np.random.default_rng(seed)))
