"""OCR accuracy by the standard protocols: IC15 detection / end to end, and word-crop recognition."""

from __future__ import annotations

import math

import pytest

from harness.metrics.detection import IC15, DetectionCounts, match_frame, scores, transcription_match
from harness.metrics.recognition import RecognitionCounts, is_scored, normalize_alnum, word_cer, word_correct
from harness.paths import data_root
from harness.sources.icdar2015 import parse_gt_file
from harness.types import GroundTruthWord, TextRegion, quad_from_array


def box(x0: float, y0: float, x1: float, y1: float):
    """Axis-aligned quad, clockwise from top-left."""
    return quad_from_array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def rotated(cx: float, cy: float, width: float, height: float, degrees: float):
    """Rectangle of the given size centred on (cx, cy), turned by ``degrees``."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    corners = [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2), (-width / 2, height / 2)]
    return quad_from_array([(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners])


def gt(quad, text: str = "word") -> GroundTruthWord:
    return GroundTruthWord(quad, text, dont_care=text == "###")


def det(quad, text: str = "word") -> TextRegion:
    return TextRegion(quad, text, 1.0)


# --- detection -------------------------------------------------------------------------------------------


def test_perfect_match():
    match = match_frame([gt(box(0, 0, 10, 10))], [det(box(0, 0, 10, 10))])
    assert match.counts == DetectionCounts(gt_care=1, det_care=1, matched=1, e2e_correct=1)
    assert match.counts.detection() == scores(1, 1, 1)
    assert match.counts.detection().hmean == 1.0
    assert match.pairs == ((0, 0, True),)


@pytest.mark.parametrize(
    ("right", "matched"),
    [
        (20.0, 0),  # IoU = 100 / 200 = 0.5 exactly: the protocol wants strictly more
        (19.9, 1),  # IoU = 100 / 199 > 0.5
        (20.1, 0),  # IoU = 100 / 201 < 0.5
    ],
)
def test_iou_threshold_is_strict(right: float, matched: int):
    match = match_frame([gt(box(0, 0, 10, 10))], [det(box(0, 0, right, 10))])
    assert match.counts.matched == matched
    assert match.counts.det_care == 1


def test_shifted_box_just_above_and_below():
    # A 10x10 box shifted by s along x: IoU = (10 - s) / (10 + s), which is 0.5 at s = 10/3.
    assert match_frame([gt(box(0, 0, 10, 10))], [det(box(3.3, 0, 13.3, 10))]).counts.matched == 1
    assert match_frame([gt(box(0, 0, 10, 10))], [det(box(3.4, 0, 13.4, 10))]).counts.matched == 0


def test_detection_inside_dont_care_is_ignored():
    words = [gt(box(0, 0, 10, 10), "cat"), gt(box(100, 0, 200, 50), "###")]
    regions = [det(box(0, 0, 10, 10), "cat"), det(box(120, 10, 150, 40), "blur")]
    match = match_frame(words, regions)
    assert match.ignored == (1,)
    assert match.counts == DetectionCounts(gt_care=1, det_care=1, matched=1, e2e_correct=1)
    assert match.counts.detection().precision == 1.0


def test_half_over_dont_care_is_not_ignored():
    # Exactly half the detection lies in the don't-care region: the protocol ignores only "more than 0.5".
    match = match_frame([gt(box(100, 0, 200, 50), "###")], [det(box(80, 0, 120, 50))])
    assert match.ignored == ()
    assert match.counts == DetectionCounts(gt_care=0, det_care=1, matched=0)


def test_dont_care_words_are_never_matched():
    match = match_frame([gt(box(0, 0, 10, 10), "###")], [det(box(0, 0, 10, 10))])
    assert match.counts == DetectionCounts(gt_care=0, det_care=0, matched=0)


def test_two_detections_on_one_word_match_once_in_order():
    words = [gt(box(0, 0, 10, 10))]
    regions = [det(box(0, 0, 10, 11)), det(box(0, 0, 10, 10))]  # the second fits better, the first comes first
    match = match_frame(words, regions)
    assert match.pairs == ((0, 0, True),)
    assert match.counts == DetectionCounts(gt_care=1, det_care=2, matched=1, e2e_correct=1)
    assert match.counts.detection() == scores(1, 1, 2)
    assert match.counts.detection().precision == 0.5


def test_one_detection_over_two_words_matches_one():
    words = [gt(box(0, 0, 10, 10)), gt(box(0, 0, 10, 10.5))]
    match = match_frame(words, [det(box(0, 0, 10, 10))])
    assert match.pairs == ((0, 0, True),)
    assert match.counts.detection().recall == 0.5


def test_rotated_quads_use_polygon_overlap():
    # Two thin bars on the two diagonals: their bounding boxes coincide, the bars barely overlap.
    gt_bar, other_bar = rotated(50, 50, 140, 10, 45), rotated(50, 50, 140, 10, -45)
    assert match_frame([gt(gt_bar)], [det(other_bar)]).counts.matched == 0
    # The same word turned 3 degrees more still overlaps by more than half; 6 degrees more does not.
    assert match_frame([gt(gt_bar)], [det(rotated(50, 50, 140, 10, 48))]).counts.matched == 1
    assert match_frame([gt(gt_bar)], [det(rotated(50, 50, 140, 10, 51))]).counts.matched == 0
    # A 20x20 square and the same square turned 45 degrees overlap in a regular octagon of apothem 10.
    octagon = 8 * 10**2 * math.tan(math.radians(22.5))
    assert octagon / (2 * 400 - octagon) == pytest.approx(0.7071, abs=1e-4)
    square, diamond = rotated(0, 0, 20, 20, 0), rotated(0, 0, 20, 20, 45)
    assert match_frame([gt(square)], [det(diamond)]).counts.matched == 1


def test_point_order_and_bow_ties_are_tolerated():
    clockwise = box(0, 0, 10, 10)
    counter = tuple(reversed(clockwise))
    assert match_frame([gt(clockwise)], [det(counter)]).counts.matched == 1
    bow_tie = quad_from_array([(0, 0), (10, 10), (10, 0), (0, 10)])
    match = match_frame([gt(clockwise)], [det(bow_tie)])
    assert match.counts.det_care == 1
    assert match.counts.matched == 0  # two lobes of 25 each: IoU 0.5, not more


def test_empty_frames():
    assert match_frame([], []).counts == DetectionCounts()
    assert match_frame([gt(box(0, 0, 1, 1))], []).counts == DetectionCounts(gt_care=1)
    assert match_frame([], [det(box(0, 0, 1, 1))]).counts == DetectionCounts(det_care=1)
    assert DetectionCounts().detection() == scores(0, 0, 0) == scores(0, 0, 0)
    assert DetectionCounts().detection().hmean == 0.0


def test_dataset_scores_come_from_summed_counts():
    frames = [DetectionCounts(gt_care=2, det_care=2, matched=2), DetectionCounts(gt_care=8, det_care=2, matched=0)]
    total = DetectionCounts.total(frames)
    assert total == DetectionCounts(gt_care=10, det_care=4, matched=2)
    result = total.detection()
    assert result.precision == pytest.approx(0.5)
    assert result.recall == pytest.approx(0.2)
    assert result.hmean == pytest.approx(2 * 0.5 * 0.2 / 0.7)
    mean_of_hmeans = sum(f.detection().hmean for f in frames) / len(frames)
    assert mean_of_hmeans == pytest.approx(0.5)  # the non-standard figure differs
    assert result.hmean != pytest.approx(mean_of_hmeans)


# --- end to end ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("truth", "detected", "correct"),
    [
        ("Hello", "HELLO", True),
        ("Hello", "hello ", True),
        ("WORLD!", "world", True),  # one trailing special character may be dropped
        ("(WORLD)", "world", True),
        ("(WORLD)", "(world)", True),
        ("'WORLD", "world", True),
        ("WORLD!!", "world", False),  # only one
        ("WORLD-", "world", False),  # '-' is not among the special characters
        ("WORLD", "world!", False),  # the detection may not add one
        ("Wor1d", "world", False),
        ("B1,", "b1", True),
        ("$8,888", "$8,888", True),
    ],
)
def test_transcription_match(truth: str, detected: str, correct: bool):
    assert transcription_match(truth, detected) is correct


def test_end_to_end_counts_with_case_differences():
    words = [gt(box(0, 0, 10, 10), "Exit"), gt(box(20, 0, 30, 10), "SALE!"), gt(box(40, 0, 50, 10), "Cafe"), gt(box(60, 0, 99, 10), "###")]
    regions = [
        det(box(0, 0, 10, 10), "EXIT"),
        det(box(20, 0, 30, 10), "sale"),
        det(box(40, 0, 50, 10), "Cafo"),  # located, misread
        det(box(70, 0, 90, 10), "junk"),  # ignored: inside the don't-care region
        det(box(200, 0, 210, 10), "exit"),  # nothing there
    ]
    match = match_frame(words, regions)
    assert match.counts == DetectionCounts(gt_care=3, det_care=4, matched=3, e2e_correct=2)
    assert match.pairs == ((0, 0, True), (1, 1, True), (2, 2, False))
    e2e = match.counts.end_to_end()
    assert e2e.recall == pytest.approx(2 / 3)
    assert e2e.precision == pytest.approx(2 / 4)
    assert IC15.iou_threshold == 0.5


# --- recognition -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [("Hello, World!", "helloworld"), ("CAFÉ", "caf"), ("B1,", "b1"), ("$8,888", "8888"), ("  ", ""), ("Ünïcode_42", "ncode42")],
)
def test_normalize_alnum(text: str, normalized: str):
    assert normalize_alnum(text) == normalized


def test_word_correct_and_cer():
    assert word_correct("hello", "HELLO")
    assert word_correct("it's", "ITS")
    assert not word_correct("helo", "hello")
    assert word_cer("helo", "Hello") == pytest.approx(0.2)
    assert word_cer("HELLO!", "hello") == 0.0
    assert word_cer("", "abcd") == 1.0
    assert word_cer("abcdefgh", "ab") == 3.0  # may exceed 1
    assert word_cer("", "!!") == 0.0
    assert not is_scored("&")
    assert is_scored("a-")


def test_recognition_counts_on_a_tiny_table():
    table = [  # (prediction, label)
        ("EXIT", "exit"),
        ("Sale", "SALE!"),
        ("helo", "Hello"),  # one deletion over 5
        ("", "Go"),  # two deletions over 2
        ("x", "&"),  # no alphanumerics: skipped
    ]
    total = RecognitionCounts.total(RecognitionCounts.of(pred, label) for pred, label in table)
    assert (total.words, total.correct, total.skipped) == (4, 2, 1)
    assert (total.edits, total.label_chars) == (3, 4 + 4 + 5 + 2)
    assert total.accuracy == pytest.approx(0.5)
    assert total.cer == pytest.approx(3 / 15)
    assert total.mean_word_cer == pytest.approx((0 + 0 + 0.2 + 1.0) / 4)
    assert RecognitionCounts().accuracy is None
    assert RecognitionCounts.of("x", "&").cer is None


# --- real data -------------------------------------------------------------------------------------------


IC15_GT = data_root() / "icdar2015_incidental_test200" / "gt"


@pytest.mark.skipif(not IC15_GT.is_dir(), reason="shared ICDAR 2015 data not present (set ARBENCH_DATA_ROOT)")
def test_ic15_ground_truth_scored_against_itself_is_perfect():
    counts = []
    for number in range(1, 6):
        words = parse_gt_file(IC15_GT / f"gt_img_{number}.txt").words
        regions = [TextRegion(w.quad, w.text, 1.0) for w in words]  # don't-care boxes too: they must be ignored
        match = match_frame(words, regions)
        assert len(match.ignored) == sum(w.dont_care for w in words)
        counts.append(match.counts)
    total = DetectionCounts.total(counts)
    assert total.gt_care > 0
    assert total.detection() == scores(1, 1, 1)
    assert total.end_to_end().hmean == 1.0
    assert total.matched == total.e2e_correct == total.gt_care == total.det_care
