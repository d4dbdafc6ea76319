"""The store owns the record: versions it reads, how each CI was made, columns that features register, facts for reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import UserError
from harness.registry import SUMMARY_FEATURES
from harness.report.dataset import Dataset
from harness.report.pairs import precision_pairs
from harness.store.columns import SummaryColumns
from harness.store.reader import load_run
from harness.store.schema import SCHEMA_VERSION, VERSIONS, frame_record
from harness.store.spans import WAIT, is_stage, stage_spans
from harness.store.summary import summarize
from harness.types import Span

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"
MS = 1_000_000


def _records(frames: int, rounds: int = 1) -> list[dict]:
    records = []
    for r in range(rounds):
        for i in range(frames):
            start = (r * 1000 + i) * 100 * MS
            spans = [Span("capture", start, start + MS), Span("ocr", start + MS, start + (11 + i) * MS)]
            record = frame_record("cfg", r * frames + i, False, spans, None)
            record.update(frame_id=i, source="s")
            if rounds > 1:
                record["round"] = r
            records.append(record)
    return records


def test_the_reader_says_which_versions_it_reads(tmp_path: Path) -> None:
    assert SCHEMA_VERSION == max(VERSIONS) == 2
    for name in ("smoke", "quant-tiny", "smoke-offload"):  # runs written by schema 1 still read
        assert load_run(FIXTURES / name).schema_version == 1
    run = tmp_path / "future"
    shutil.copytree(FIXTURES / "smoke", run)
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 3}))
    with pytest.raises(UserError, match=r"schema_version 3 is not supported by this arbench \(it reads 1, 2\)"):
        load_run(run)


def test_each_row_says_how_its_p50_ci_was_made() -> None:
    outcome = [{"config_id": "cfg", "status": "complete"}]
    plain = summarize(_records(8), outcome).set_index("stage")
    assert plain.loc["ocr", "p50_ci_method"] == "order_statistics"
    rounds = summarize(_records(8, rounds=2), outcome).set_index("stage")
    assert rounds.loc["ocr", "p50_ci_method"] == "frame_bootstrap"  # a frame's readings are drawn together
    few = summarize(_records(4), outcome).set_index("stage")
    assert pd.isna(few.loc["ocr", "p50_ci_method"])  # no interval: no method


def test_a_feature_adds_columns_by_registering_them_without_the_store_importing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def slowest(records, durations):
        measured = [r for r in records if not r["warmup"] and r["ok"]]
        durations["gap"] = [1.0] * len(measured)
        return {"frames_seen": len(measured)}

    feature = SummaryColumns(("frames_seen",), slowest, derived=("gap",), no_ci=("gap",))
    monkeypatch.setitem(globals(), "FEATURE", feature)
    monkeypatch.setitem(SUMMARY_FEATURES, "test", f"{__name__}:FEATURE")
    summary = summarize(_records(8), [{"config_id": "cfg", "status": "complete"}])
    assert summary.columns[-3:].tolist() == ["frames_seen", "status", "reason"]
    rows = summary.set_index("stage")
    assert rows.loc["e2e", "frames_seen"] == 8
    assert pd.isna(rows.loc["gap", "fps"]) and pd.isna(rows.loc["gap", "p50_ci_method"])  # derived, not independent


def test_one_stage_rule_for_names_and_records() -> None:
    assert [is_stage(n) for n in ("ocr", "ocr.det", WAIT, "e2e")] == [True, False, False, True]
    spans = [{"name": WAIT}, {"name": "capture"}, {"name": "ocr.det"}, {"name": "ocr"}]
    assert [s["name"] for s in stage_spans(spans)] == ["capture", "ocr"]


def test_schema_2_pairs_by_recorded_precision_and_schema_1_by_option_names(tmp_path: Path) -> None:
    v1 = Dataset.from_runs([load_run(FIXTURES / "quant-tiny")])
    assert {(p.quant.config_id, p.precision) for p in precision_pairs(v1.series)} == {("synth-easy/ort-int8/off", "int8")}
    run = tmp_path / "v2"
    shutil.copytree(FIXTURES / "quant-tiny", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["schema_version"] = 2
    for config in manifest["experiment"]["resolved"]["configurations"].values():  # what schema 2 records
        config["ocr"]["precision"] = config["ocr"]["options"].pop("precision")
        config["ocr"]["options"]["model_variant"] = "same"  # an option that is not a precision option
        config["mt"]["precision"] = None
    (run / "manifest.json").write_text(json.dumps(manifest))
    v2 = Dataset.from_runs([load_run(run)])
    assert {(p.quant.config_id, p.precision) for p in precision_pairs(v2.series)} == {("synth-easy/ort-int8/off", "int8")}
    assert {s.ci_method() for s in v2.series} <= {"order_statistics", "frame_bootstrap", None}
