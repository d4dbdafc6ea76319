"""Does a figure transfer? An equivalence test per configuration and figure between two runs.

``arbench check-transfer RUN_A RUN_B``: two runs of the same experiment on different machines, or on
different image sets (the tuning split against the test split), compared figure by figure with two
one-sided tests (TOST) at the 5% level: a figure is

- **equivalent** when the 90% bootstrap interval of its difference (B − A; for latency the ratio B / A)
  lies inside the margin: both one-sided tests reject a difference as large as the margin;
- **different** when it is not equivalent and the 95% interval excludes no difference;
- **undecided** otherwise: the data cannot tell, and overlapping intervals never count as agreement.

Margins (``Margins``, each a command option): 0.01 of det and e2e hmean and of word recall, 1 chrF
point, 0.5 points of word error rate, 5% of the median end-to-end latency. Frames are resampled
independently on each side (two runs do not share readings, and on two image sets not even frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import UserError
from harness.report.columns import ACCURACY_METRICS, DET_HMEAN, AccuracyMetric
from harness.report.compare import terminal_text
from harness.report.dataset import Dataset, Series
from harness.report.export import Table, fmt, fmt_ci
from harness.report.stats import difference_ci, has_metric, metric_value, paired_difference_ci, ratio_of_medians_ci
from harness.store.reader import Run

__all__ = ["Margins", "TransferCheck", "check_transfer", "transfer_report", "transfer_table"]

METRICS = {m.column: m for m in (DET_HMEAN, *ACCURACY_METRICS)}


@dataclass(frozen=True)
class Margins:
    """How far apart two figures may be and still count as the same (absolute, in each figure's own unit)."""

    hmean: float = 0.01
    chrf: float = 1.0
    wer_points: float = 0.5
    latency_pct: float = 5.0

    def of(self, column: str) -> float:
        """The margin of an accuracy column."""
        return {"mt_chrf": self.chrf, "ocr_wer": self.wer_points / 100, "ocr_wer_bag": self.wer_points / 100}.get(column, self.hmean)


FIGURES = ("det_hmean", "e2e_hmean", "ocr_word_recall", "ocr_wer", "ocr_wer_bag", "mt_chrf")


@dataclass(frozen=True)
class TransferCheck:
    """One figure of one configuration in both runs, and what the test says."""

    config: str
    figure: str
    a: float
    b: float
    change: float  # B − A, or B / A for latency
    ci90: tuple[float, float]
    ci95: tuple[float, float]
    margin: str
    verdict: str


def _verdict(ci90: tuple[float, float], ci95: tuple[float, float], low: float, high: float, none: float) -> str:
    if not all(np.isfinite(v) for v in (*ci90, *ci95)):
        return "undecided"
    if low < ci90[0] and ci90[1] < high:
        return "equivalent"
    return "different" if ci95[0] > none or ci95[1] < none else "undecided"


def _pairs(a: Sequence[Series], b: Sequence[Series], sources: dict[str, str]) -> list[tuple[str, Series, Series]]:
    """Configurations of A and B with the same id, A's source ids renamed by ``sources`` first."""

    def renamed(one: Series) -> str:
        source, _, rest = one.config_id.partition("/")
        return f"{sources.get(source, source)}/{rest}"

    theirs = {one.config_id: one for one in b}
    return [(renamed(one), one, theirs[renamed(one)]) for one in a if renamed(one) in theirs]


def check_transfer(run_a: Run, run_b: Run, margins: Margins = Margins(), sources: dict[str, str] | None = None) -> list[TransferCheck]:
    """Every figure both runs measured for each configuration they share.

    ``sources`` maps a source id of A to one of B (the tuning photos to the test photos, say), so
    configurations on different image sets are compared; the configuration is named as in B.
    """
    pairs = _pairs(Dataset.from_runs([run_a]).series, Dataset.from_runs([run_b]).series, sources or {})
    if not pairs:
        raise UserError(
            f"{run_a.path} and {run_b.path} share no configuration id with measured frames; nothing to check"
            " (map a source of A to one of B with --source A_ID=B_ID)"
        )
    checks = []
    for config, a, b in pairs:
        checks.append(_latency(config, a, b, margins.latency_pct))
        for column in FIGURES:
            metric = METRICS[column]
            if has_metric(a.accuracy(), metric) and has_metric(b.accuracy(), metric):
                checks.append(_accuracy(config, a, b, metric, margins.of(column)))
    return checks


def _latency(config: str, a: Series, b: Series, pct: float) -> TransferCheck:
    x, y = a.stage_ms("e2e"), b.stage_ms("e2e")
    frames = (a.stage_frames("e2e"), b.stage_frames("e2e"))
    ci90 = ratio_of_medians_ci(x, y, frames=frames, confidence=0.90)
    ci95 = ratio_of_medians_ci(x, y, frames=frames)
    bound = 1 + pct / 100
    ratio = float(np.median(y) / np.median(x))
    verdict = _verdict(ci90, ci95, 1 / bound, bound, 1.0)
    return TransferCheck(config, "e2e p50 ms", float(np.median(x)), float(np.median(y)), ratio, ci90, ci95, f"±{pct:g}%", verdict)


def _accuracy(config: str, one: Series, other: Series, metric: AccuracyMetric, margin: float) -> TransferCheck:
    """One accuracy figure of both runs, with its intervals.

    Where both measured the same frames (two machines, one image set), frames are paired in the bootstrap,
    so only the machines' difference remains; else they are resampled independently.
    """

    def score(frames: Sequence[dict[str, Any]]) -> float:
        return metric_value(frames, metric)

    mine, theirs = one.accuracy_by_frame(), other.accuracy_by_frame()
    if mine and mine.keys() == theirs.keys():
        keys = sorted(mine)
        a, b = [mine[k] for k in keys], [theirs[k] for k in keys]
        ci90, ci95 = paired_difference_ci(a, b, score, confidence=0.90), paired_difference_ci(a, b, score)
    else:
        a, b = one.accuracy(), other.accuracy()
        ci90, ci95 = difference_ci(a, b, score, confidence=0.90), difference_ci(a, b, score)
    value_a, value_b = score(a), score(b)
    verdict = _verdict(ci90, ci95, -margin, margin, 0.0)
    return TransferCheck(config, metric.column, value_a, value_b, value_b - value_a, ci90, ci95, f"±{margin:g}", verdict)


def transfer_table(checks: list[TransferCheck], run_a: Run, run_b: Run) -> Table:
    """The checks as a table (A and B named by run id)."""
    a, b = run_a.manifest.get("run_id", "A"), run_b.manifest.get("run_id", "B")
    table = Table(
        f"Transfer check, A = {a}, B = {b}: B − A (latency B / A) with its 90% bootstrap interval; equivalent when that "
        "interval lies inside the margin (two one-sided tests at 5%), different when the 95% interval excludes no change.",
        ["configuration", "figure", "A", "B", "B − A or B / A", "90% CI", "margin", "verdict"],
        label_columns=2,
    )
    for c in checks:
        digits = 1 if c.figure in ("e2e p50 ms", "mt_chrf") else 3
        row = [c.config, c.figure, fmt(c.a, digits), fmt(c.b, digits), fmt(c.change, 3), fmt_ci(*c.ci90, 3), c.margin, c.verdict]
        table.rows.append(row)
    return table


def transfer_report(path_a: Any, path_b: Any, margins: Margins, sources: dict[str, str], markdown: bool = False) -> str:
    """What `arbench check-transfer` prints: the table, then the count of each verdict."""
    from harness.store.reader import load_run

    run_a, run_b = load_run(path_a), load_run(path_b)
    checks = check_transfer(run_a, run_b, margins, sources)
    table = transfer_table(checks, run_a, run_b)
    counts = {v: sum(c.verdict == v for c in checks) for v in ("equivalent", "different", "undecided")}
    tail = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    body = table.to_markdown() if markdown else terminal_text(table)
    return f"{body}\n{len(checks)} figures: {tail}"
