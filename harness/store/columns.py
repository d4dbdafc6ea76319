"""Columns that feature packages add to summary.csv. The store imports none of them: each registers by name.

A feature (offloading, the AR mode) describes its columns with a ``SummaryColumns`` in its own package
and adds one line to ``harness.registry.SUMMARY_FEATURES``; ``summarize`` calls it for every configuration
and puts its columns on the ``e2e`` row, after the store's own. To add a column to an existing feature,
change only that feature's ``SummaryColumns`` (docs/architecture.md shows one).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SummaryColumns", "registered"]

Records = Sequence[dict[str, Any]]
Durations = dict[str, list[float]]


@dataclass(frozen=True)
class SummaryColumns:
    """One feature's columns of summary.csv's ``e2e`` row and the rows it derives.

    ``compute(records, durations)``: the columns' values for one configuration, from its frame records
    (all of them, warm-up and failed ones included: the feature picks), ``{}`` where the feature did not
    run; it may add samples (ms) of its ``derived`` rows to ``durations``. ``derived``: rows that are not
    stages a frame passes through (no fps); ``no_ci``: derived rows whose samples are not independent
    (runs of samples from one reading), which get no CI of the median.
    """

    columns: tuple[str, ...]
    compute: Callable[[Records, Durations], dict[str, Any]]
    derived: tuple[str, ...] = ()
    no_ci: tuple[str, ...] = ()


def registered() -> list[SummaryColumns]:
    """The registered features' columns, in registration order (imported when a summary is made)."""
    from harness.registry import SUMMARY_FEATURES

    found = []
    for spec in SUMMARY_FEATURES.values():
        module, _, name = spec.partition(":")
        found.append(getattr(importlib.import_module(module), name))
    return found
