"""The result store: records round-trip, summaries are right, partial files stay readable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import DataMissing
from harness.metrics.latency import median_ci
from harness.store.reader import load_run, read_frames
from harness.store.schema import SCHEMA_VERSION, frame_record
from harness.store.summary import SUMMARY_COLUMNS, summarize
from harness.store.writer import FrameWriter, write_json_atomic
from harness.types import Span

MS = 1_000_000


def _record(seq: int, start_ms: int, ocr_ms: int, warmup: bool = False, ok: bool = True) -> dict:
    start = start_ms * MS
    spans = [
        Span("capture", start, start + 1 * MS),
        Span("ocr.det", start + 1 * MS, start + (1 + ocr_ms // 2) * MS),
        Span("ocr", start + 1 * MS, start + (1 + ocr_ms) * MS),
        Span("mt", start + (1 + ocr_ms) * MS, start + (3 + ocr_ms) * MS),
    ]
    return frame_record("cfg", seq, warmup, spans, None, None if ok else "ocr: RuntimeError: x")


def _records() -> list[dict]:
    # Frames start every 100 ms; OCR takes 10, 20, ..., so the uncovered gap ("harness") is 100 - (1 + ocr + 2).
    return [_record(0, 0, 50, warmup=True)] + [_record(i, i * 100, 10 * i) for i in range(1, 6)]


def test_summary_statistics_and_derived_stages() -> None:
    summary = summarize(_records(), [{"config_id": "cfg", "status": "complete"}])
    assert list(summary.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    rows = summary.set_index("stage")
    assert rows.loc["ocr", "n"] == 5  # the warm-up frame is left out
    assert rows.loc["ocr", "mean_ms"] == pytest.approx(30.0)
    assert rows.loc["ocr", "p50_ms"] == pytest.approx(30.0)
    assert np.isnan(rows.loc["ocr", "p90_ms"]) and np.isnan(rows.loc["ocr", "p99_ms"])  # 5 frames: the slowest, not a percentile
    assert np.isnan(rows.loc["ocr", "p50_ci_low_ms"])  # five values: no rank gives 95% coverage
    assert rows.loc["e2e", "mean_ms"] == pytest.approx(33.0)
    assert rows.loc["e2e", "fps"] == pytest.approx(1000 / 33.0)
    # Four gaps (the last frame has no successor): 100 - 3 - ocr for ocr = 10..40.
    assert rows.loc["harness", "n"] == 4
    assert rows.loc["harness", "mean_ms"] == pytest.approx(np.mean([87, 77, 67, 57]))
    assert list(summary["stage"]) == ["capture", "ocr", "ocr.det", "mt", "e2e", "harness"]


def test_failed_frames_and_failed_configurations() -> None:
    records = [*_records(), _record(6, 600, 10, ok=False)]
    outcomes = [{"config_id": "cfg", "status": "complete"}, {"config_id": "other", "status": "failed", "reason": "setup: no model"}]
    summary = summarize(records, outcomes)
    assert summary.set_index("stage").loc["ocr", "n"] == 5
    failed = summary[summary.config_id == "other"].iloc[0]
    assert (failed["stage"], failed["n"], failed["status"], failed["reason"]) == ("-", 0, "failed", "setup: no model")


def test_writer_appends_whole_lines_and_reader_skips_a_torn_last_line(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path)
    for record in _records():
        writer.write(record)
    writer.close()
    with (tmp_path / "frames.jsonl").open("a") as handle:
        handle.write('{"config_id": "cfg", "seq": 9')  # what a kill in the middle of a write leaves
    records, bad = read_frames(tmp_path / "frames.jsonl")
    assert records == json.loads(json.dumps(_records()))
    assert bad == 1


def test_load_run_round_trip(tmp_path: Path) -> None:
    manifest = {"schema_version": SCHEMA_VERSION, "run_id": "r", "status": "running", "configurations": []}
    write_json_atomic(tmp_path / "manifest.json", manifest)
    writer = FrameWriter(tmp_path)
    for record in _records():
        writer.write(record)
    writer.close()
    run = load_run(tmp_path)
    assert not run.complete
    assert len(run.frames) == 6
    assert set(run.spans["name"]) == {"capture", "ocr", "ocr.det", "mt"}
    assert run.spans.query("name == 'mt'")["duration_ms"].tolist() == [2.0] * 6


def test_load_run_rejects_non_runs_and_other_schema_versions(tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match="not an arbench run"):
        load_run(tmp_path)
    write_json_atomic(tmp_path / "manifest.json", {"schema_version": 999})
    with pytest.raises(Exception, match="schema_version 999"):
        load_run(tmp_path)


def test_records_refuse_nan(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path)
    with pytest.raises(ValueError):
        writer.write({"accuracy": {"ocr_cer": float("nan")}})
    writer.close()
    assert (tmp_path / "frames.jsonl").read_text() == ""


@pytest.mark.parametrize(("n", "low_rank", "high_rank"), [(6, 1, 6), (10, 2, 9), (20, 6, 15), (100, 40, 61)])
def test_median_ci_uses_the_binomial_order_statistics(n: int, low_rank: int, high_rank: int) -> None:
    values = np.arange(1, n + 1, dtype=float)[::-1]  # unsorted on purpose; the value equals its rank
    assert median_ci(values) == (low_rank, high_rank)


def test_median_ci_is_nan_below_six_values() -> None:
    assert all(np.isnan(median_ci(np.arange(5.0))))


def test_tail_percentiles_need_frames_above_them() -> None:
    from harness.metrics.latency import latency_stats, min_frames

    assert (min_frames(50), min_frames(90), min_frames(99)) == (2, 10, 100)
    assert latency_stats(np.array([5.0])).p50_ms == 5.0  # the median needs no frame above it
    nine, ten = latency_stats(np.arange(1.0, 10.0)), latency_stats(np.arange(1.0, 11.0))
    assert np.isnan(nine.p90_ms) and ten.p90_ms == pytest.approx(np.percentile(np.arange(1.0, 11.0), 90))
    assert np.isnan(ten.p99_ms)
    hundred = latency_stats(np.arange(1.0, 101.0))
    assert hundred.p99_ms == pytest.approx(99.01) and hundred.p99_ms < 100.0  # below the slowest frame


def test_round_spread_is_warned_about_above_ten_percent() -> None:
    from harness.report.checks import _ci_warnings

    tight = {"stage": "e2e", "p50_ms": 100.0, "p50_ci_low_ms": 99.0, "p50_ci_high_ms": 101.0}
    rows = [{"config_id": "steady", **tight, "p50_round_spread_pct": 4.0}, {"config_id": "drifty", **tight, "p50_round_spread_pct": 17.0}]
    [line] = _ci_warnings(pd.DataFrame(rows))
    assert line.startswith("drifty: the median moved 17% between rounds")
    many = [{"config_id": f"c{i}", **tight, "p50_round_spread_pct": 11.0 + i} for i in range(4)]
    [line] = _ci_warnings(pd.DataFrame([*rows, *many]))
    assert line.startswith("the median moved 11–17% between rounds for 5 of 6 configurations") and "worst: drifty" in line


def test_the_median_ci_resamples_frames_not_readings_when_rounds_repeat_them() -> None:
    from harness.metrics.latency import clustered_median_ci, latency_stats, median_ci

    rng = np.random.default_rng(1)
    per_frame = rng.normal(300.0, 40.0, 20)  # photos differ a lot; one photo's readings barely
    readings = np.concatenate([per_frame + rng.normal(0.0, 2.0, 20) for _ in range(3)])
    frames = list(range(20)) * 3
    low, high = clustered_median_ci(readings, frames)
    naive_low, naive_high = median_ci(readings)
    assert high - low > 1.1 * (naive_high - naive_low)  # 60 readings are not 60 independent photos
    assert low < float(np.median(readings)) < high
    stats = latency_stats(readings, frames)
    assert (stats.p50_ci_low_ms, stats.p50_ci_high_ms) == (low, high)
    assert latency_stats(readings, list(range(60))).p50_ci_low_ms == naive_low  # no repeats: the order-statistic interval
    assert np.isnan(clustered_median_ci(readings[:15], [0, 1, 2, 3, 4] * 3)[0])  # too few frames for an interval
    nine = latency_stats(readings[:27], list(range(9)) * 3)  # 27 readings of 9 frames: no p90 (it needs 10 frames)
    assert np.isnan(nine.p90_ms) and not np.isnan(latency_stats(readings[:27]).p90_ms)
    assert not np.isnan(latency_stats(readings[:30], list(range(10)) * 3).p90_ms)


def test_models_row_and_the_share_outside_the_models() -> None:
    def record(seq: int, model_ns: dict[str, int]) -> dict:
        spans = [
            {"name": "capture", "start_ns": 0, "end_ns": 1_000_000},
            {"name": "ocr", "start_ns": 1_000_000, "end_ns": 41_000_000},
            {"name": "ocr.det", "start_ns": 1_000_000, "end_ns": 31_000_000, "attrs": {"model_ns": model_ns.get("det", 0)}},
            {"name": "mt", "start_ns": 41_000_000, "end_ns": 51_000_000},
            {"name": "mt.translate", "start_ns": 41_000_000, "end_ns": 51_000_000, "attrs": {"model_ns": model_ns["mt"]} if "mt" in model_ns else {}},  # noqa: E501
        ]
        base = seq * 100_000_000
        spans = [{**s, "start_ns": s["start_ns"] + base, "end_ns": s["end_ns"] + base} for s in spans]
        return {"config_id": "c", "seq": seq, "warmup": False, "ok": True, "spans": spans}

    timed = [record(i, {"det": 25_000_000, "mt": 5_000_000}) for i in range(8)]
    summary = summarize(timed, [{"config_id": "c", "status": "complete"}]).set_index("stage")
    assert summary.loc["models", "p50_ms"] == pytest.approx(30.0)
    assert summary.loc["e2e", "outside_models_pct"] == pytest.approx(100 * (1 - 30 / 51))
    assert pd.isna(summary.loc["models", "fps"])
    from harness.report.tables import floor_lines

    (line,) = floor_lines(summary.reset_index())
    assert line.startswith("floor c: models p50 30.0 ms of the frame's p50 51.0 ms; 41.2% of the mean frame")
    untimed = [record(i, {"det": 25_000_000}) for i in range(8)]  # MT ran without saying its model time
    summary = summarize(untimed, [{"config_id": "c", "status": "complete"}]).set_index("stage")
    assert "models" not in summary.index and pd.isna(summary.loc["e2e", "outside_models_pct"])
