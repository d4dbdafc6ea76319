"""Where figures find energy, offload and accuracy numbers in the store: every such lookup is here.

Energy (issue 6) and offload (issue 7) are being added to the store; the names below follow
docs/results.md as far as it goes and are provisional otherwise. A figure whose columns are absent or
empty is skipped with a one-line reason, so changing a name here is all a schema change should need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import UserError

__all__ = [
    "ACCURACY_METRICS",
    "DET_HMEAN",
    "ENERGY_GROSS",
    "ENERGY_NET",
    "ENERGY_REASON",
    "ENERGY_STATUS",
    "FRAME_ENERGY",
    "FULL_PRECISIONS",
    "GROSS",
    "LOCAL_PLACEMENT",
    "NET",
    "NETWORK_NOTE",
    "PLACEMENT",
    "PRECISION_OPTIONS",
    "PRIVACY",
    "STAGE_METRICS",
    "AccuracyMetric",
    "Placement",
    "is_missing",
    "placement_of",
]

# Energy (docs/results.md): frames.jsonl records have FRAME_ENERGY = {span name or "e2e": {GROSS, NET, ...}};
# summary.csv rows have ENERGY_GROSS / ENERGY_NET (mean joules per measured frame); the manifest's
# validity has ENERGY_STATUS ("available", "partial", "unavailable") and ENERGY_REASON.
FRAME_ENERGY = "energy"
GROSS = "gross_j"
NET = "net_j"
ENERGY_GROSS = "energy_gross_j"
ENERGY_NET = "energy_net_j"
ENERGY_STATUS = "energy"
ENERGY_REASON = "energy_reason"
# Per configuration: where stages run. Today the manifest's resolved configuration has a "placement"
# table (placement, network, privacy_level, sends); a summary.csv column of the same name wins if added.
# Bytes on the wire per frame come from frames.jsonl ``bytes_up`` / ``bytes_down`` (docs/results.md).
PLACEMENT = "placement"
NETWORK_PROFILE = "network"
NETWORK_NOTE = "network_note"  # summary.csv, e2e row: what the shaping could not apply (e.g. no netem)
LOCAL_PLACEMENT = "local"
LOOPBACK = "loopback"
# What leaves the device under each placement, where the store does not say (docs/architecture.md).
PRIVACY = {"local": "nothing", "ocr-local": "recognized text", "det-local": "text crops", "cloud": "whole frame"}


@dataclass(frozen=True)
class Placement:
    """Where a configuration's stages ran: ``network`` "" when local; ``uplink_mbps`` None when unknown or unshaped."""

    placement: str
    network: str
    privacy: str
    uplink_mbps: float | None


def placement_of(series: Any) -> Placement:
    """The placement of a Series: its e2e summary row's ``placement``, else the resolved configuration's."""
    value = (series.row("e2e") or {}).get(PLACEMENT)
    resolved = series.resolved().get(PLACEMENT)
    table = resolved if isinstance(resolved, Mapping) else {}
    name = str(value if not is_missing(value) else table.get(PLACEMENT) or (resolved if isinstance(resolved, str) else LOCAL_PLACEMENT))
    network = str(table.get(NETWORK_PROFILE) or "")
    privacy = str(table.get("privacy_level") or PRIVACY.get(name, "?"))
    return Placement(name, network, privacy, _uplink_mbps(network))


def _uplink_mbps(network: str) -> float | None:
    """The shaped uplink of a named network profile (harness/network/profiles.toml), in Mbit/s."""
    if not network or network == LOOPBACK:
        return None
    try:
        from harness.network.profiles import profile

        return profile(network).up_kbit / 1000.0
    except (ImportError, UserError):
        return None


# Options that set a model's numeric precision, per component kind, and the values that mean "full".
PRECISION_OPTIONS = ("precision", "compute_type")
FULL_PRECISIONS = frozenset({"fp32", "float32", "default"})


@dataclass(frozen=True)
class AccuracyMetric:
    """An accuracy figure of merit: its summary.csv column (e2e row), axis label with range, and how frames combine.

    ``per_frame`` metrics are means of a per-frame score in frames.jsonl ``accuracy``; the others are
    ratios of per-frame counts summed over frames (``numerator`` over ``denominator``), or an hmean
    of two such ratios when ``hmean`` is set. Either way a bootstrap over frames gives a CI. ``short`` names
    it in a crowded panel; ``points`` turns it into points on a 0–100 scale (100 for 0–1 metrics).
    """

    column: str
    label: str
    short: str
    higher_is_better: bool = True
    per_frame: bool = True
    numerator: str = ""
    denominator: tuple[str, ...] = ()
    hmean: bool = False
    points: float = 100.0


# In order of preference: end-to-end translation quality first, then OCR-only measures.
ACCURACY_METRICS = (
    AccuracyMetric("mt_chrf", "Translation chrF, end to end (0–100)", "chrF", points=1.0),
    AccuracyMetric(
        "e2e_hmean",
        "End-to-end word hmean (0–1)",
        "e2e hmean",
        per_frame=False,
        numerator="e2e_correct",
        denominator=("det_gt_care", "det_det_care"),
        hmean=True,
    ),
    AccuracyMetric("ocr_word_recall", "OCR word recall (0–1)", "word recall"),
    AccuracyMetric(
        "rec_accuracy",
        "Word recognition accuracy (0–1)",
        "word accuracy",
        per_frame=False,
        numerator="rec_correct",
        denominator=("rec_words",),
    ),
    AccuracyMetric("ocr_cer", "OCR character error rate (0–1)", "CER", higher_is_better=False),
    AccuracyMetric(
        "ocr_wer",
        "OCR word error rate (0–1)",
        "WER",
        higher_is_better=False,
        per_frame=False,
        numerator="word_edits",
        denominator=("word_reference",),
    ),
    AccuracyMetric(
        "ocr_wer_bag",
        "OCR word error rate, order-free (0–1)",
        "WER (order-free)",
        higher_is_better=False,
        per_frame=False,
        numerator="word_bag_edits",
        denominator=("word_reference",),
    ),
    AccuracyMetric("ocr_cer_spaced", "OCR character error rate with spaces (0–1)", "CER (spaces)", higher_is_better=False),
)
# Detection alone (no recognition): not a figure of merit for a pipeline, but one a transfer check compares.
DET_HMEAN = AccuracyMetric(
    "det_hmean", "Detection hmean (0–1)", "det hmean", per_frame=False,
    numerator="det_matched", denominator=("det_gt_care", "det_det_care"), hmean=True,
)  # fmt: skip
# Which metrics can show what changing one stage's precision did, in order: a translation model changes
# only the translation, so OCR scores of an MT pair would compare nothing but which frames were measured.
STAGE_METRICS = {
    "ocr": ("e2e_hmean", "rec_accuracy", "ocr_word_recall", "ocr_wer_bag", "ocr_wer", "ocr_cer_spaced", "ocr_cer", "mt_chrf"),
    "mt": ("mt_chrf",),
}


def is_missing(value: Any) -> bool:
    """True for None, NaN and empty strings (how pandas and the CSV spell "no value")."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""
