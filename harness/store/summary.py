"""Per-configuration, per-stage statistics (summary.csv) computed from frame records.

Stages are the span names found in the records plus derived ones:
- ``e2e``: from the start of capture to the end of the frame's last top-level stage;
- ``models``: the time the frame spent inside the models' own runtimes (ONNX Runtime's ``run``, CTranslate2's
  ``translate_batch``, the Apertium process's answer: spans' ``model_ns``), the floor under ``e2e``; the
  ``e2e`` row's ``outside_models_pct`` is the share of the mean frame spent outside them. Only where every
  model-running stage of the frame says its ``model_ns`` (backends that do not, such as Tesseract, leave it out);
- ``harness``: the time between two consecutive frames' first span starts that no top-level span
  covers — the harness's own per-frame work (bookkeeping, accuracy scoring, writing the record);
  a camera-paced run's ``wait`` for the next frame is a span, so it is not counted as harness time;
- camera-paced runs only: ``latency`` (a frame's arrival to the end of its overlay, queueing included)
  and ``overlay_age`` (sampled at every frame arrival: how old the frame behind the overlay on show is).
Only measured (non-warm-up), successful frames count; ``failed_frames`` on the ``e2e`` row says how many
measured frames failed and are therefore missing from every figure. The ``e2e`` row also carries
``throughput_fps`` ((n - 1) frame intervals over the time from the first measured frame's start to the
last one's, summed over ``[run] rounds``), ``p50_round_spread_pct`` (with rounds: how far the rounds' median
end-to-end times lie apart, % of the pooled median), accuracy figures, and for camera-paced runs ``frames_offered``, ``frames_dropped`` and
``deadline_misses``, and from the manifest ``model_mb`` (model files on disk, 10^6 bytes) and
``peak_rss_mb`` (the isolated worker's peak resident set, MiB; empty when ``run.isolate`` is off) and
``accelerators`` (what each local part ran on, ``ocr.det=CPUExecutionProvider mt.model=cpu``).
``fps`` (1000 / mean) is left empty on rows that are not stages (wait, harness,
latency, overlay_age); ``overlay_age`` has no CI, its samples come in runs from one overlay. Every row says
how its p50 CI was made (``p50_ci_method``: ``order_statistics``, or ``frame_bootstrap`` where ``[run]
rounds`` read frames more than once). Features add their own columns to the ``e2e`` row and their own
derived rows (offloading, the AR mode: ``harness.store.columns``), after the store's.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics.detection import scores
from harness.metrics.latency import latency_stats
from harness.metrics.text import corpus_scores, degenerate
from harness.store.columns import registered
from harness.store.spans import WAIT, e2e_ms, model_ms, stage_spans, top_spans

__all__ = [
    "ACCURACY_COLUMNS",
    "ENERGY_COLUMNS",
    "RATE_COLUMNS",
    "RESOURCE_COLUMNS",
    "SUMMARY_COLUMNS",
    "accuracy_figures",
    "frame_key",
    "once_per_frame",
    "summarize",
]

TAXONOMY = ("merged", "split", "substituted", "missed", "inserted")  # harness.metrics.words
WORD_COLUMNS = [f"ocr_words_{name}" for name in TAXONOMY]  # summed over a configuration's frames
SUMMARY_COLUMNS = [
    "config_id",
    "stage",
    "n",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p50_ci_low_ms",
    "p50_ci_high_ms",
    "p50_ci_method",
    "fps",
]
ACCURACY_COLUMNS = [
    "ocr_cer",
    "ocr_cer_spaced",
    "ocr_wer",
    "ocr_wer_bag",
    "ocr_word_recall",
    "mt_chrf",
    "mt_bleu",
    "mt_chrf_corpus",
    "mt_degenerate_lines",
    "det_precision",
    "det_recall",
    "det_hmean",
    "e2e_hmean",
    "rec_accuracy",
    "rec_cer",
    *WORD_COLUMNS,
]
MEAN_COLUMNS = ["ocr_cer", "ocr_cer_spaced", "ocr_word_recall", "mt_chrf"]
COUNT_KEYS = ["det_gt_care", "det_det_care", "det_matched", "e2e_correct", "rec_words", "rec_correct", "rec_edits", "rec_label_chars"]
COUNT_KEYS += [f"word_{name}" for name in ("reference", "edits", "bag_edits", *TAXONOMY)]
RATE_COLUMNS = [
    "throughput_fps",
    "outside_models_pct",
    "p50_round_spread_pct",
    "failed_frames",
    "frames_offered",
    "frames_dropped",
    "deadline_misses",
    "mt_cache_hit_rate",
    "mt_tokens_in",
    "mt_tokens_out",
    "mt_tokens_out_per_s",
]
RESOURCE_COLUMNS = ["model_mb", "peak_rss_mb", "accelerators"]
ENERGY_COLUMNS = ["energy_gross_j", "energy_net_j", "energy_coverage"]
DERIVED = (WAIT, "models", "harness", "latency", "overlay_age")  # rows that are not stages a frame passes through: no fps
NO_CI = ("overlay_age",)  # derived rows sampled in runs from one overlay: not independent, no CI of the median
STAGE_ORDER = [
    "wait", "capture", "ocr", "ocr.det", "ocr.cls", "ocr.rec", "mt", "mt.tokenize", "mt.translate", "mt.detokenize",
    "offload", "offload.encode", "offload.roundtrip", "offload.decode",
    "overlay", "e2e", "models", "latency", "overlay_age", "harness",
]  # fmt: skip


def _frame_durations(records: list[dict[str, Any]], frames: dict[str, list[Any]] | None = None) -> dict[str, list[float]]:
    """Durations in ms per stage over consecutive records of one configuration.

    ``frames``, when given, gets per stage the source frame (source, frame_id) of each duration, in the
    same order: ``[run] rounds`` read each frame several times, and its readings are not independent.
    """
    durations: dict[str, list[float]] = defaultdict(list)
    for index, record in enumerate(records):
        if record["warmup"] or not record["ok"]:
            continue
        seen: list[str] = []
        for span in record["spans"]:
            durations[span["name"]].append((span["end_ns"] - span["start_ns"]) / 1e6)
            seen.append(span["name"])
        e2e = e2e_ms(record)
        if e2e is not None:
            durations["e2e"].append(e2e)
            seen.append("e2e")
            model = model_ms(record)
            if model is not None:
                durations["models"].append(model)
                seen.append("models")
            following = records[index + 1] if index + 1 < len(records) else None
            if following and following["spans"] and following["seq"] == record["seq"] + 1:
                top = top_spans(record["spans"])
                covered = sum(s["end_ns"] - s["start_ns"] for s in top)
                durations["harness"].append((following["spans"][0]["start_ns"] - top[0]["start_ns"] - covered) / 1e6)
                seen.append("harness")
        if frames is not None:
            for stage in seen:
                frames[stage].append(frame_key(record))
    return durations


def _measured(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r["warmup"] and r["ok"] and stage_spans(r["spans"])]


def _throughput(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """Frames per second from frame start to frame start: (n - 1) intervals over their total length, per round.

    With ``[run] rounds`` a configuration's frames come in several stretches; the time between them
    (other configurations ran) is not the configuration's.
    """
    failed = sum(1 for r in records if not r["warmup"] and not r["ok"])
    intervals, wall_ns = 0, 0
    for stretch in _by_round(_measured(records)):
        if len(stretch) >= 2:
            intervals += len(stretch) - 1
            wall_ns += stage_spans(stretch[-1]["spans"])[0]["start_ns"] - stage_spans(stretch[0]["spans"])[0]["start_ns"]
    if not intervals or wall_ns <= 0:
        return {"throughput_fps": None, "failed_frames": failed}
    return {"throughput_fps": intervals / (wall_ns / 1e9), "failed_frames": failed}


def _round_spread(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """How far the rounds' median end-to-end times lie apart, in % of the pooled median (``[run] rounds`` > 1).

    The machine's drift between rounds, which the pooled frames' CI does not show: configurations
    whose medians differ by less than this are not told apart by the run.
    """
    stretches = [[e2e for r in stretch if (e2e := e2e_ms(r)) is not None] for stretch in _by_round(_measured(records))]
    medians = [float(np.median(values)) for values in stretches if values]
    if len(medians) < 2:
        return {"p50_round_spread_pct": None}
    pooled = float(np.median([v for values in stretches for v in values]))
    return {"p50_round_spread_pct": 100.0 * (max(medians) - min(medians)) / pooled if pooled > 0 else None}


def _by_round(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Records split by their ``round`` (absent: one round), in order."""
    rounds: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        rounds[record.get("round", 0)].append(record)
    return [rounds[k] for k in sorted(rounds)]


def _outside_models(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """The share (%) of measured frames' end-to-end time spent outside the models' runtimes, over frames that say."""
    pairs = [(e2e, model) for r in _measured(records) if (e2e := e2e_ms(r)) is not None and (model := model_ms(r)) is not None]
    total = sum(e2e for e2e, _ in pairs)
    return {"outside_models_pct": 100.0 * (1 - sum(m for _, m in pairs) / total)} if pairs and total > 0 else {}


def _mt_counts(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """Translation-cache hit rate (``mt`` spans) and token counts and rate (``mt.translate`` spans) of measured frames."""
    spans = [s for r in _measured(records) for s in r["spans"] if s["name"].startswith("mt") and s.get("attrs")]
    totals: dict[str, float] = defaultdict(float)
    decoding_ns = 0
    for span in spans:
        attrs = span["attrs"]
        for key in ("cache_lookups", "cache_hits", "tokens_in", "tokens_out"):
            value = attrs.get(key, 0)
            totals[key] += sum(value) if isinstance(value, list) else value
        if "tokens_out" in attrs:
            decoding_ns += span["end_ns"] - span["start_ns"]
    result: dict[str, float | None] = {}
    if totals["cache_lookups"]:
        result["mt_cache_hit_rate"] = totals["cache_hits"] / totals["cache_lookups"]
    if decoding_ns:
        result["mt_tokens_in"], result["mt_tokens_out"] = totals["tokens_in"], totals["tokens_out"]
        result["mt_tokens_out_per_s"] = totals["tokens_out"] / (decoding_ns / 1e9)
    return result


def _pacing(records: list[dict[str, Any]], durations: dict[str, list[float]]) -> dict[str, float | None]:
    """Latency and overlay-age samples (into ``durations``) and drop/miss counts of a camera-paced run."""
    paced = [r for r in _measured(records) if "pacing" in r]
    if not paced:
        return {}
    pacing = [r["pacing"] for r in paced]
    durations["latency"] = [p["latency_ns"] / 1e6 for p in pacing]
    durations["overlay_age"] = _overlay_ages(pacing)
    return {
        "frames_offered": pacing[-1]["arrival_index"] - pacing[0]["arrival_index"] + 1,
        "frames_dropped": sum(p["dropped_before"] for p in pacing[1:]),
        "deadline_misses": sum(bool(p["deadline_missed"]) for p in pacing),
    }


def _overlay_ages(pacing: list[dict[str, Any]]) -> list[float]:
    """Age (ms) of the frame behind the overlay on show, at each arrival while that overlay is shown."""
    ages = []
    for shown, following in itertools.pairwise(pacing):
        start, period = shown["arrival_ns"], shown["period_ns"]
        ready, replaced = start + shown["latency_ns"], following["arrival_ns"] + following["latency_ns"]
        first = -(-(ready - start) // period)  # arrivals at or after the overlay is ready
        ages += [k * period / 1e6 for k in range(first, (replaced - start - 1) // period + 1)]
    return ages


def frame_key(record: dict[str, Any]) -> tuple[Any, Any]:
    """The source frame a record read: (source, frame_id). ``[run] rounds`` read each frame once per round."""
    return (record.get("source"), record.get("frame_id", record["seq"]))


def once_per_frame(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Measured, successful records with each source frame once (the first reading of it).

    ``[run] rounds`` measure the same frames again; counting a frame's score once per round would make
    the accuracy's sample look larger than it is. Records without a frame id are all kept.
    """
    seen: set[tuple[Any, Any]] = set()
    kept = []
    for record in records:
        if record["warmup"] or not record["ok"]:
            continue
        key = (record.get("source"), record.get("frame_id"))
        if record.get("frame_id") is not None and key in seen:
            continue
        seen.add(key)
        kept.append(record)
    return kept


def accuracy_figures(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """Means of per-frame scores, and protocol figures from summed per-frame counts, each frame once."""
    records = once_per_frame(records)
    measured = [r.get("accuracy") or {} for r in records]
    result: dict[str, float | None] = {}
    for column in MEAN_COLUMNS:
        values = [a[column] for a in measured if a.get(column) is not None]
        result[column] = float(np.mean(values)) if values else None
    total = defaultdict(int, {k: sum(a.get(k, 0) for a in measured) for k in COUNT_KEYS})
    if any(k in a for a in measured for k in ("det_gt_care", "det_det_care")):
        detection = scores(total["det_matched"], total["det_gt_care"], total["det_det_care"])
        result.update(det_precision=detection.precision, det_recall=detection.recall, det_hmean=detection.hmean)
        result["e2e_hmean"] = scores(total["e2e_correct"], total["det_gt_care"], total["det_det_care"]).hmean
    with_targets = [r["targets"] for r in records if isinstance(r.get("targets"), list)]  # None/NaN: MT did not run
    if with_targets:
        result["mt_degenerate_lines"] = float(sum(degenerate(t) for targets in with_targets for t in targets if t))
    translated = [r for r in records if "reference" in r and r.get("targets") is not None]
    if translated:
        result.update(corpus_scores([" ".join(t for t in r["targets"] if t) for r in translated], [r["reference"] for r in translated]))
    if total["word_reference"]:
        result["ocr_wer"] = total["word_edits"] / total["word_reference"]
        result["ocr_wer_bag"] = total["word_bag_edits"] / total["word_reference"]
        result.update({f"ocr_words_{name}": float(total[f"word_{name}"]) for name in TAXONOMY})
    if total["rec_words"]:
        result["rec_accuracy"] = total["rec_correct"] / total["rec_words"]
        result["rec_cer"] = total["rec_edits"] / total["rec_label_chars"] if total["rec_label_chars"] else None
    return result


def _energy(records: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per stage, over measured frames with energy: mean gross and net joules per frame, mean coverage.

    Frames whose window has no energy (a failed read, samples that do not bracket it) are left out of the
    means and count as coverage 0; without any sensor the columns stay empty.
    """
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record["warmup"] or not record["ok"]:
            continue
        for stage, energy in (record.get("energy") or {}).items():
            for column, key in (("energy_gross_j", "gross_j"), ("energy_net_j", "net_j")):
                if energy.get(key) is not None:
                    values[stage][column].append(energy[key])
            covered = energy.get("coverage") if energy.get("gross_j") is not None else None
            values[stage]["energy_coverage"].append(covered or 0.0)
    return {stage: {c: float(np.mean(v)) if v else None for c, v in columns.items()} for stage, columns in values.items()}


def _order(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)


def summarize(records: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> pd.DataFrame:
    """Build summary.csv as a DataFrame: one row per configuration and stage.

    Failed configurations get one row with stage "-" and their reason. ``outcomes`` are the manifest's
    configuration entries.
    """
    by_config: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_config[record["config_id"]].append(record)
    features = registered()
    derived = {*DERIVED, *(d for f in features for d in f.derived)}
    no_ci = {*NO_CI, *(d for f in features for d in f.no_ci)}
    rows = []
    for outcome in outcomes:
        config_id = outcome["config_id"]
        config_records = sorted(by_config.get(config_id, []), key=lambda r: (r.get("round", 0), r["seq"]))
        frames: dict[str, list[Any]] | None = defaultdict(list) if any("round" in r for r in config_records) else None
        durations = _frame_durations(config_records, frames)
        energy = _energy(config_records)
        rates = {**_throughput(config_records), **_round_spread(config_records), **_pacing(config_records, durations)}
        rates |= _outside_models(config_records)
        rates |= _mt_counts(config_records)
        for feature in features:  # offloading, the AR mode (harness.registry.SUMMARY_COLUMNS)
            rates |= feature.compute(config_records, durations)
        resources = {name: outcome.get(name) for name in RESOURCE_COLUMNS}
        resources["accelerators"] = " ".join(f"{part}={name}" for part, name in (outcome.get("accelerators") or {}).items()) or None
        accuracy = {**accuracy_figures(config_records), **rates, **resources}
        base = {"status": outcome.get("status", "unknown"), "reason": outcome.get("reason") or ""}
        if not durations:
            rows.append({"config_id": config_id, "stage": "-", "n": 0, **base})
            continue
        for stage in sorted(durations, key=_order):
            stats = asdict(latency_stats(np.array(durations[stage]), frames.get(stage) if frames is not None else None))
            if stage in derived:  # not a stage a frame passes through: no rate
                stats["fps"] = None
            if stage in no_ci:  # runs of samples from one overlay / one reading
                stats["p50_ci_low_ms"] = stats["p50_ci_high_ms"] = stats["p50_ci_method"] = None
            extra = accuracy if stage == "e2e" else {}
            rows.append({"config_id": config_id, "stage": stage, **stats, **extra, **energy.get(stage, {}), **base})
    columns = [*SUMMARY_COLUMNS, *ACCURACY_COLUMNS, *RATE_COLUMNS, *RESOURCE_COLUMNS, *ENERGY_COLUMNS]
    columns += [*(c for f in features for c in f.columns), "status", "reason"]
    return pd.DataFrame(rows, columns=columns)
