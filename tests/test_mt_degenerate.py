"""Degenerate translations are counted: the detector the NMT recipe's evaluation uses, summed per configuration."""

from __future__ import annotations

import math

import pytest

from harness.metrics.text import degenerate
from harness.store.summary import summarize


@pytest.mark.parametrize(
    "text",
    ["Crrrrrrrrrr", "Bus para para para para", "No no NO no", "de la casa de la casa de la casa", "¡Nunca Nunca, nunca nunca!"],
)
def test_loops_are_degenerate(text: str) -> None:
    assert degenerate(text)


@pytest.mark.parametrize(
    "text",
    ["Parada de autobús", "Andén 10000", "Salida de emergencia", "muy muy muy bien", "la casa de la casa", "", "zzzz"],
)
def test_translations_that_repeat_a_little_are_not(text: str) -> None:
    assert not degenerate(text)  # three times running, a 3-gram twice, four letters: still language


def _record(seq: int, frame_id: int, targets: object, warmup: bool = False) -> dict:
    spans = [{"name": "mt", "start_ns": seq * 10_000_000, "end_ns": seq * 10_000_000 + 5_000_000}]
    return {"config_id": "c", "seq": seq, "frame_id": frame_id, "warmup": warmup, "ok": True, "spans": spans, "targets": targets}


def test_the_summary_counts_degenerate_regions_once_per_frame() -> None:
    records = [
        _record(0, 0, ["Bus para para para para"], warmup=True),  # warm-up frames are not measured
        _record(1, 0, ["Salida", "Bus para para para para"]),
        _record(2, 1, ["Crrrrrrrrrrrrr", "", "Aseos"]),
        _record(3, 0, ["Bus para para para para"]),  # a second round of frame 0: counted once
        _record(4, 2, math.nan),  # read back from frames.jsonl by pandas: MT did not run
    ]
    e2e = summarize(records, [{"config_id": "c", "status": "complete"}]).set_index("stage").loc["e2e"]
    assert e2e["mt_degenerate_lines"] == 2


def test_no_column_value_without_translations() -> None:
    records = [_record(seq, seq, None) for seq in range(3)]
    e2e = summarize(records, [{"config_id": "c", "status": "complete"}]).set_index("stage").loc["e2e"]
    assert math.isnan(e2e["mt_degenerate_lines"])
