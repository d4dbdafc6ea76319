"""Intervals and tests for figures and comparisons: percentile bootstrap, Mann–Whitney U.

Latencies are skewed and often multimodal, so nothing here assumes normality. The bootstrap is seeded,
so a figure drawn twice from the same run is the same figure.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from harness.metrics.latency import MIN_CI_FRAMES, STATISTICS, cluster_bootstrap, repeats
from harness.report.columns import AccuracyMetric

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "bootstrap_ci",
    "change_p",
    "difference_ci",
    "has_metric",
    "mann_whitney_p",
    "metric_ci",
    "metric_value",
    "paired_difference_ci",
    "per_frame_medians",
    "ratio_of_medians_ci",
    "same_frames",
    "wilcoxon_p",
]

BOOTSTRAP_RESAMPLES = 2000
ITEM_RESAMPLES = 1000  # for statistics computed in Python per resample (accuracy from counts)
CONFIDENCE = 0.95
NAN = float("nan")


def _resamples(values: np.ndarray, seed: int) -> np.ndarray:
    """BOOTSTRAP_RESAMPLES × n resampled copies of ``values`` (rows)."""
    rng = np.random.default_rng(seed)
    return values[rng.integers(0, len(values), size=(BOOTSTRAP_RESAMPLES, len(values)))]


def _interval(estimates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


Frames = Sequence[Hashable] | None


def _estimates(values: np.ndarray, statistic: str, seed: int, frames: Frames) -> np.ndarray:
    """Bootstrap estimates of the statistic: readings drawn singly, or by frame where a frame has several (rounds)."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    if repeats(frames):
        return cluster_bootstrap([(values, frames)], statistic, BOOTSTRAP_RESAMPLES, seed)[0]  # type: ignore[list-item]
    reduce = np.median if statistic == "median" else np.mean
    return reduce(_resamples(values, seed), axis=1)


def _enough(values: np.ndarray, frames: Frames) -> bool:
    """Whether a sample has enough independent draws for an interval: 2 readings, or 6 frames where frames repeat."""
    if frames is not None and len(frames) != len(values):
        raise ValueError(f"{len(values)} values but {len(frames)} frames")
    return len(set(frames)) >= MIN_CI_FRAMES if repeats(frames) else len(values) >= 2  # type: ignore[arg-type]


def same_frames(frames: tuple[Frames, Frames]) -> bool:
    """Whether both samples read exactly the same frames (so they can be resampled, and tested, in step)."""
    return frames[0] is not None and frames[1] is not None and set(frames[0]) == set(frames[1])


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, statistic: str = "mean", seed: int = 0, frames: Frames = None
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean or median of ``values``; NaNs below 2 values.

    ``frames`` (one key per value): where a key repeats (``[run] rounds`` read each frame again), whole
    frames are drawn, as readings of one frame are not independent (NaNs below 6 frames).
    """
    data = np.asarray(values, dtype=float)
    if not _enough(data, frames):
        return NAN, NAN
    return _interval(_estimates(data, statistic, seed, frames))


def ratio_of_medians_ci(
    a: np.ndarray,
    b: np.ndarray,
    seed: int = 0,
    statistic: str = "median",
    frames: tuple[Frames, Frames] = (None, None),
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """95% (or ``confidence``) bootstrap interval of median(b) / median(a) (or of means).

    Where both samples read the same frames (``same_frames``), each resample draws frames once and weights
    both samples by that draw, so which photos were drawn cancels out of the ratio; otherwise the samples
    are resampled independently, each by frame where its frames repeat (``bootstrap_ci``).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (_enough(a, frames[0]) and _enough(b, frames[1])):
        return NAN, NAN
    if same_frames(frames):
        est_a, est_b = cluster_bootstrap([(a, frames[0]), (b, frames[1])], statistic, BOOTSTRAP_RESAMPLES, seed)  # type: ignore[list-item]
    else:
        est_a, est_b = _estimates(a, statistic, seed, frames[0]), _estimates(b, statistic, seed + 1, frames[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return _interval(est_b / est_a, confidence)


def _item_estimates(items: Sequence[Any], statistic: Callable[[Sequence[Any]], float], rng: np.random.Generator) -> np.ndarray:
    """``statistic`` over ITEM_RESAMPLES resamples of arbitrary per-frame items (a Python loop: keep n small)."""
    n = len(items)
    return np.array([statistic([items[i] for i in rng.integers(0, n, n)]) for _ in range(ITEM_RESAMPLES)])


def difference_ci(
    a: Sequence[Any], b: Sequence[Any], statistic: Callable[[Sequence[Any]], float], seed: int = 0, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """95% (or ``confidence``) bootstrap interval of statistic(b) − statistic(a) for per-frame items, resampled independently."""
    if len(a) < 2 or len(b) < 2:
        return NAN, NAN
    rng = np.random.default_rng(seed)
    return _interval(_item_estimates(b, statistic, rng) - _item_estimates(a, statistic, rng), confidence)


def paired_difference_ci(
    a: Sequence[Any], b: Sequence[Any], statistic: Callable[[Sequence[Any]], float], seed: int = 0, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """95% (or ``confidence``) bootstrap interval of statistic(b) − statistic(a) where ``a[i]`` and ``b[i]`` are the same frame.

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
    return _interval(np.array(estimates), confidence)


def mann_whitney_p(a: np.ndarray, b: np.ndarray, frames: tuple[Frames, Frames] = (None, None)) -> float:
    """Two-sided Mann–Whitney U p-value (scipy; asymptotic with tie correction above small n).

    Where a side's ``frames`` repeat (rounds), that side is tested as one value per frame, the median of its
    readings: the test assumes independent values.
    """
    from scipy.stats import mannwhitneyu

    a, b = per_frame_medians(a, frames[0]), per_frame_medians(b, frames[1])
    if len(a) < 2 or len(b) < 2:
        return NAN
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def wilcoxon_p(a: np.ndarray, b: np.ndarray, frames: tuple[Frames, Frames]) -> float:
    """Two-sided Wilcoxon signed-rank p-value over the frames both samples read, each frame's median per side."""
    from scipy.stats import wilcoxon

    medians = [_medians_by_frame(values, keys) for values, keys in zip((a, b), frames, strict=True)]  # type: ignore[arg-type]
    shared = [key for key in medians[0] if key in medians[1]]
    differences = np.array([medians[1][k] - medians[0][k] for k in shared])
    if len(differences) < 2:
        return NAN
    if not np.any(differences):
        return 1.0  # no frame changed at all
    return float(wilcoxon(differences, alternative="two-sided").pvalue)


def change_p(a: np.ndarray, b: np.ndarray, frames: tuple[Frames, Frames] = (None, None)) -> tuple[float, str]:
    """(p-value, test): Wilcoxon signed-rank where both samples read the same frames, else Mann–Whitney U."""
    if same_frames(frames):
        return wilcoxon_p(a, b, frames), "Wilcoxon"
    return mann_whitney_p(a, b, frames), "Mann–Whitney"


def _medians_by_frame(values: np.ndarray, frames: Sequence[Hashable]) -> dict[Hashable, float]:
    if len(frames) != len(values):
        raise ValueError(f"{len(values)} values but {len(frames)} frames")
    groups: dict[Hashable, list[float]] = {}
    for value, frame in zip(np.asarray(values, dtype=float), frames, strict=True):
        groups.setdefault(frame, []).append(float(value))
    return {frame: float(np.median(v)) for frame, v in groups.items()}


def per_frame_medians(values: np.ndarray, frames: Frames) -> np.ndarray:
    """One value per frame (the median of its readings) where frames repeat; else the values as they are."""
    values = np.asarray(values, dtype=float)
    return np.array(list(_medians_by_frame(values, frames).values())) if repeats(frames) else values  # type: ignore[arg-type]


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
