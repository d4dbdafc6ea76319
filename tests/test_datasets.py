"""Evaluation sets read in place from the shared data folder: counts from each README, spot checks against the raw files.

Expected labels and sentences are read from the raw files here, not copied into the repository.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.errors import ConfigError, DataMissing
from harness.paths import data_root
from harness.sources.textsets import TextSetOptions, TextSetSource, directions, load_text_pairs
from harness.sources.word_crops import (
    IC15_WORDS,
    IIIT5K,
    Ic15WordsOptions,
    Ic15WordsSource,
    Iiit5kOptions,
    Iiit5kSource,
    load_crop_labels,
)

IC15_WORDS_DIR = data_root() / "icdar2015_word_recognition_test"
IIIT5K_DIR = data_root() / "iiit5k_test1000"
FLORES_DIR = data_root() / "flores101_devtest"
TATOEBA_DIR = data_root() / "tatoeba_test_v2021-08-07"
NEWSTEST_DIR = data_root() / "wmt_newstest2013"


def needs(folder: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not folder.is_dir(), reason=f"shared data not present at {folder}")


def raw_tsv(path: Path) -> list[tuple[str, str]]:
    """The raw label table as (file name, label), parsed independently of the loader."""
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").split("\n") if line]
    return [(Path(image).name, label) for image, label in rows]


def raw_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def read_all(source: Ic15WordsSource | Iiit5kSource | TextSetSource) -> list:
    source.open()
    try:
        return list(source.frames())
    finally:
        source.close()


def assert_crop_frame(frame, label: str) -> None:
    assert frame.image is not None and frame.image.dtype == np.uint8
    assert frame.image.ndim == 3 and frame.image.shape[2] == 3
    height, width = frame.image.shape[:2]
    truth = frame.ground_truth
    assert truth is not None and truth.source_text == label and truth.reference_translation is None
    assert [w.text for w in truth.words] == [label]
    assert truth.words[0].quad == ((0.0, 0.0), (width, 0.0), (width, height), (0.0, height))


# --- word crops -----------------------------------------------------------------------------------------


@needs(IC15_WORDS_DIR)
def test_ic15_words_counts_match_its_readme() -> None:
    labels = [label for _, label in load_crop_labels(IC15_WORDS_DIR, IC15_WORDS)]
    assert len(labels) == 2077
    assert sum(label.isascii() and label.isalnum() for label in labels) == 1922
    assert sum(not label.isascii() for label in labels) == 2
    assert any("," in label for label in labels)  # commas inside the quoted text survive


@needs(IC15_WORDS_DIR)
def test_ic15_official_gt_agrees_with_labels_tsv() -> None:
    crops = load_crop_labels(IC15_WORDS_DIR, IC15_WORDS)
    assert [(path.name, label) for path, label in crops] == raw_tsv(IC15_WORDS_DIR / "labels.tsv")
    assert all(path.parent == IC15_WORDS_DIR / "images" for path, _ in crops)


@needs(IC15_WORDS_DIR)
def test_ic15_words_source_decodes_every_crop() -> None:
    frames = read_all(Ic15WordsSource(Ic15WordsOptions(loop=False)))
    expected = raw_tsv(IC15_WORDS_DIR / "labels.tsv")
    assert len(frames) == 2077
    assert [f.frame_id for f in frames[:3]] == [0, 1, 2]
    assert [f.name for f in frames[:3]] == ["word_1.png", "word_2.png", "word_3.png"]
    for frame, (name, label) in zip(frames, expected, strict=True):
        assert frame.name == name
        assert_crop_frame(frame, label)
    assert frames[0].source.startswith("ic15_words:")


@needs(IIIT5K_DIR)
def test_iiit5k_source_decodes_every_crop() -> None:
    frames = read_all(Iiit5kSource(Iiit5kOptions(loop=False)))
    expected = raw_tsv(IIIT5K_DIR / "labels.tsv")
    assert len(load_crop_labels(IIIT5K_DIR, IIIT5K)) == len(frames) == len(expected) == 1000
    for frame, (name, label) in zip(frames, expected, strict=True):
        assert frame.name == name
        assert_crop_frame(frame, label)


@needs(IIIT5K_DIR)
def test_crop_source_limit_and_loop() -> None:
    source = Iiit5kSource(Iiit5kOptions(limit=2, loop=True))
    source.open()
    frames = list(itertools.islice(source.frames(), 5))
    assert [f.frame_id for f in frames] == [0, 1, 2, 3, 4]
    assert [f.name for f in frames] == [f.name for f in frames[:2]] * 2 + [frames[0].name]


def write_crop(path: Path, size: tuple[int, int] = (12, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((*size, 3), 200, np.uint8))


def test_rrc_gt_quoting_bom_and_crlf(tmp_path: Path) -> None:
    write_crop(tmp_path / "images" / "word_1.png")
    write_crop(tmp_path / "images" / "word_2.png", (20, 8))
    gt = 'word_1.png, "$8,888"\r\nword_2.png, "say \\"hi\\" \\\\o/"\r\n'
    (tmp_path / "Challenge4_Test_Task3_GT.txt").write_text(gt, encoding="utf-8-sig", newline="")
    frames = read_all(Ic15WordsSource(Ic15WordsOptions(root=str(tmp_path), loop=False)))
    assert [f.ground_truth.source_text for f in frames] == ["$8,888", 'say "hi" \\o/']
    assert frames[1].ground_truth.words[0].quad == ((0.0, 0.0), (8.0, 0.0), (8.0, 20.0), (0.0, 20.0))


def test_crop_sets_missing_root_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataMissing, match=re.escape(str(missing))):
        Iiit5kSource(Iiit5kOptions(root=str(missing))).open()
    with pytest.raises(DataMissing, match=re.escape(str(tmp_path / "Challenge4_Test_Task3_GT.txt"))):
        Ic15WordsSource(Ic15WordsOptions(root=str(tmp_path))).open()


def test_crop_sets_bad_line_and_missing_crop(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text("images/a.png\tOK\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataMissing, match=r"labels\.tsv:2"):
        Iiit5kSource(Iiit5kOptions(root=str(tmp_path))).open()
    (tmp_path / "labels.tsv").write_text("images/a.png\tOK\n", encoding="utf-8")
    with pytest.raises(DataMissing, match=re.escape(str(tmp_path / "images" / "a.png"))):
        Iiit5kSource(Iiit5kOptions(root=str(tmp_path))).open()


# --- sentence sets --------------------------------------------------------------------------------------


@needs(FLORES_DIR)
@pytest.mark.parametrize("direction", ["eng-spa", "spa-eng", "deu-fra"])
def test_flores_pairs_are_aligned(direction: str) -> None:
    src, tgt = direction.split("-")
    pairs = load_text_pairs(TextSetOptions("flores101", src, tgt))
    assert len(pairs) == 1012
    assert pairs[0] == (raw_lines(FLORES_DIR / f"{src}.devtest")[0], raw_lines(FLORES_DIR / f"{tgt}.devtest")[0])
    assert pairs[-1][1] == raw_lines(FLORES_DIR / f"{tgt}.devtest")[-1]


@needs(TATOEBA_DIR)
@pytest.mark.parametrize(("pair", "count"), [("eng-spa", 16583), ("deu-eng", 17565), ("eng-fra", 12681)])
def test_tatoeba_counts_and_both_directions(pair: str, count: int) -> None:
    first, second = pair.split("-")
    forward = load_text_pairs(TextSetOptions("tatoeba", first, second))
    backward = load_text_pairs(TextSetOptions("tatoeba", second, first))
    assert len(forward) == count
    assert forward[0] == (raw_lines(TATOEBA_DIR / f"{pair}.{first}")[0], raw_lines(TATOEBA_DIR / f"{pair}.{second}")[0])
    assert backward == [(b, a) for a, b in forward]


@needs(NEWSTEST_DIR)
def test_newstest_count_and_limit() -> None:
    assert len(load_text_pairs(TextSetOptions("newstest2013", "eng", "deu"))) == 3000
    pairs = load_text_pairs(TextSetOptions("newstest2013", "fra", "spa", limit=2))
    assert pairs == list(
        zip(raw_lines(NEWSTEST_DIR / "newstest2013.fra")[:2], raw_lines(NEWSTEST_DIR / "newstest2013.spa")[:2], strict=True)
    )


@needs(TATOEBA_DIR)
def test_text_source_frames_carry_text_and_reference() -> None:
    source = TextSetSource(TextSetOptions("tatoeba", "eng", "spa", limit=3))
    assert source.name == "tatoeba:eng-spa" and source.modality == "text"
    frames = read_all(source)
    eng, spa = raw_lines(TATOEBA_DIR / "eng-spa.eng"), raw_lines(TATOEBA_DIR / "eng-spa.spa")
    assert [f.frame_id for f in frames] == [0, 1, 2]
    assert [f.name for f in frames] == ["line_00000", "line_00001", "line_00002"]
    for frame, src, tgt in zip(frames, eng[:3], spa[:3], strict=True):
        assert frame.image is None and frame.text == src and frame.source == "tatoeba:eng-spa"
        assert frame.ground_truth is not None and frame.ground_truth.words == ()
        assert (frame.ground_truth.source_text, frame.ground_truth.reference_translation) == (src, tgt)


def write_pair(root: Path, src_lines: list[str], tgt_lines: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "eng.devtest").write_text("".join(f"{line}\n" for line in src_lines), encoding="utf-8")
    (root / "spa.devtest").write_text("".join(f"{line}\n" for line in tgt_lines), encoding="utf-8")


def test_text_source_loops_over_a_fake_set(tmp_path: Path) -> None:
    write_pair(tmp_path, ["Exit", "a\u2028b"], ["Salida", "c"])  # a Unicode line separator is not a line break
    source = TextSetSource(TextSetOptions("flores101", root=str(tmp_path), loop=True))
    source.open()
    frames = list(itertools.islice(source.frames(), 3))
    assert [(f.frame_id, f.name, f.text) for f in frames] == [
        (0, "line_00000", "Exit"),
        (1, "line_00001", "a\u2028b"),
        (2, "line_00000", "Exit"),
    ]


@pytest.mark.parametrize(
    ("dataset", "src", "tgt", "valid"),
    [
        ("wmt14", "eng", "spa", "flores101, tatoeba, newstest2013"),
        ("tatoeba", "deu", "spa", "eng-spa, spa-eng, deu-eng"),
        ("flores101", "eng", "eng", "eng-spa"),
        ("newstest2013", "eng", "jpn", "eng-deu"),
    ],
)
def test_bad_dataset_or_direction_is_a_config_error(dataset: str, src: str, tgt: str, valid: str) -> None:
    with pytest.raises(ConfigError, match=valid):
        TextSetOptions(dataset, src, tgt)


def test_directions_cover_each_pair_both_ways() -> None:
    assert sorted(directions("tatoeba")) == sorted(["eng-spa", "spa-eng", "deu-eng", "eng-deu", "eng-fra", "fra-eng"])
    assert len(directions("flores101")) == len(directions("newstest2013")) == 12


def test_text_set_missing_root_or_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataMissing, match=re.escape(str(missing))):
        TextSetSource(TextSetOptions("newstest2013", root=str(missing))).open()
    (tmp_path / "eng-spa.eng").write_text("Hello\n", encoding="utf-8")
    with pytest.raises(DataMissing, match=re.escape(str(tmp_path / "eng-spa.spa"))):
        load_text_pairs(TextSetOptions("tatoeba", root=str(tmp_path)))


def test_text_set_line_count_mismatch_names_both_files(tmp_path: Path) -> None:
    write_pair(tmp_path, ["one", "two"], ["uno"])
    with pytest.raises(DataMissing, match=re.escape(f"{tmp_path / 'eng.devtest'} has 2 lines but {tmp_path / 'spa.devtest'} has 1")):
        load_text_pairs(TextSetOptions("flores101", root=str(tmp_path)))


def test_the_phrasebook_is_a_text_set_of_signs() -> None:
    from harness.sources.phrasebook import load_phrasebook

    entries = load_phrasebook()
    to_spanish = load_text_pairs(TextSetOptions("phrasebook", "eng", "spa"))
    assert to_spanish == [(e.en, e.es) for e in entries if e.es] and len(to_spanish) > 300
    assert load_text_pairs(TextSetOptions("phrasebook", "spa", "eng", limit=5)) == [(b, a) for a, b in to_spanish[:5]]
    to_german = load_text_pairs(TextSetOptions("phrasebook", "eng", "deu"))
    assert to_german == [(e.en, e.de) for e in entries if e.de]  # entries without German are left out
    assert all(len(source.split()) <= 8 for source, _ in to_spanish)  # sign-length
    with pytest.raises(ConfigError, match="no eng->fra pair"):
        TextSetOptions("phrasebook", "eng", "fra")
