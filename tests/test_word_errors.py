"""Word errors see what the alphanumeric CER drops: a merged or split word is an error."""

from __future__ import annotations

import pytest

from harness.metrics.text import frame_accuracy
from harness.metrics.words import spaced_cer, word_errors, words
from harness.store.summary import summarize
from harness.types import GroundTruth, GroundTruthWord, TextRegion

QUAD = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))


def test_a_merged_word_costs_nothing_in_cer_and_everything_in_wer() -> None:
    truth = GroundTruth((GroundTruthWord(QUAD, "Staff"), GroundTruthWord(QUAD, "only")), "Staff only", "Solo personal")
    scores = frame_accuracy(truth, [TextRegion(QUAD, "Staffonly", 0.9)], None)
    assert scores["ocr_cer"] == 0.0  # letters and digits only: the space is not scored
    assert scores["ocr_cer_spaced"] == pytest.approx(1 / 10)  # "staff only": one missing space
    assert scores["word_edits"] == 2 and scores["word_reference"] == 2  # WER 1.0
    assert scores["word_merged"] == 1 and scores["word_substituted"] == scores["word_missed"] == 0
    right = frame_accuracy(truth, [TextRegion(QUAD, "STAFF", 0.9), TextRegion(QUAD, "only.", 0.9)], None)
    assert right["ocr_cer_spaced"] == 0.0 and right["word_edits"] == 0


def test_the_taxonomy_sorts_splits_substitutions_misses_and_insertions() -> None:
    assert words("Coffee-and tea!") == ["coffeeand", "tea"]
    split = word_errors("Free en try", "Free entry")
    assert (split.split, split.edits, split.substituted) == (1, 2, 0)
    mixed = word_errors("Coffeeand tee please", "Coffee and tea")
    assert (mixed.merged, mixed.substituted, mixed.inserted, mixed.missed) == (1, 1, 1, 0)
    missed = word_errors("Emergency", "Emergency exit")
    assert (missed.missed, missed.edits, missed.reference) == (1, 1, 2)
    assert spaced_cer("", "exit") == 1.0 and spaced_cer("", "") == 0.0


def test_summary_sums_word_errors_into_wer_and_the_taxonomy() -> None:
    truth = GroundTruth((GroundTruthWord(QUAD, "Staff"), GroundTruthWord(QUAD, "only")), "Staff only", None)
    records = []
    for seq, text in enumerate(["Staffonly", "Staff only", "Staff oniy", "Staff only"]):
        accuracy = frame_accuracy(truth, [TextRegion(QUAD, text, 0.9)], None)
        spans = [{"name": "ocr", "start_ns": seq * 10_000_000, "end_ns": seq * 10_000_000 + 5_000_000}]
        records.append({"config_id": "c", "seq": seq, "frame_id": seq, "warmup": False, "ok": True, "spans": spans, "accuracy": accuracy})
    e2e = summarize(records, [{"config_id": "c", "status": "complete"}]).set_index("stage").loc["e2e"]
    assert e2e["ocr_wer"] == pytest.approx((2 + 0 + 1 + 0) / 8)
    assert e2e["ocr_wer_bag"] == pytest.approx((2 + 0 + 1 + 0) / 8)  # in reading order both agree
    assert (e2e["ocr_words_merged"], e2e["ocr_words_substituted"]) == (1, 1)
    assert e2e["ocr_cer"] == pytest.approx((1 / 9) / 4)  # only "oniy" costs anything without spaces


def test_the_order_free_wer_ignores_order_and_still_counts_merges() -> None:
    """On photos the ground truth lists words in no reading order: the order-free count sees only misreads."""
    reordered = word_errors("exit Emergency", "Emergency exit")
    assert reordered.edits == 2 and reordered.bag_edits == 0
    assert word_errors("Staffonly", "Staff only").bag_edits == 2  # "staffonly" matches neither word
    assert word_errors("Free en try", "Free entry").bag_edits == 2  # a split: one substitution, one insertion
    assert word_errors("exit exit", "Emergency exit").bag_edits == 1  # each reference word matched once
    assert word_errors("", "Emergency exit").bag_edits == 2 and word_errors("Open", "").bag_edits == 1
