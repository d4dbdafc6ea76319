"""The synthetic scene generator: determinism, ground truth that matches the pixels, and readability."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.errors import ConfigError
from harness.sources.phrasebook import COLUMNS, load_phrasebook
from harness.sources.synthetic import SceneOptions, SyntheticSource, generate_scene, write_scene_set
from harness.types import GroundTruth

EASY = SceneOptions(seed=11, n=6, difficulty="easy")


def test_same_options_give_identical_scenes() -> None:
    image_a, truth_a = generate_scene(EASY, 3)
    image_b, truth_b = generate_scene(dataclasses.replace(EASY), 3)
    assert image_a.dtype == np.uint8 and image_a.shape == (EASY.height_px, EASY.width_px, 3)
    assert image_a.tobytes() == image_b.tobytes()
    assert truth_a == truth_b


def test_different_seed_or_index_gives_different_scenes() -> None:
    image, _ = generate_scene(EASY, 0)
    other_seed, _ = generate_scene(dataclasses.replace(EASY, seed=12), 0)
    other_index, _ = generate_scene(EASY, 1)
    assert image.tobytes() != other_seed.tobytes()
    assert image.tobytes() != other_index.tobytes()


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_write_scene_set_is_byte_identical(tmp_path: Path) -> None:
    options = dataclasses.replace(EASY, n=3, difficulty="medium")
    manifest = write_scene_set(options, tmp_path / "a")
    write_scene_set(options, tmp_path / "b")
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert sorted(_digests(tmp_path / "a")) == ["ground_truth.jsonl", "scene_00000.png", "scene_00001.png", "scene_00002.png"]
    records = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    assert [r["file"] for r in records] == ["scene_00000.png", "scene_00001.png", "scene_00002.png"]
    assert all(r["source_text"] == " ".join(w["text"] for w in r["words"]) for r in records)
    assert all(r["reference_translation"] for r in records)


def _word_height_px(quad: np.ndarray) -> float:
    return float(np.linalg.norm((quad[3] + quad[2]) / 2 - (quad[0] + quad[1]) / 2))


def _mask(shape: tuple[int, ...], quad: np.ndarray, grow_px: int) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 1)
    if grow_px:
        mask = cv2.dilate(mask, np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8))
    return mask.astype(bool)


def _contrast_share(gray: np.ndarray, region: np.ndarray, reference: float) -> float:
    return float(np.mean(np.abs(gray[region] - reference) > 50))


@pytest.mark.parametrize("index", range(6))
def test_word_quads_are_inside_the_image_and_hold_the_ink(index: int) -> None:
    image, truth = generate_scene(EASY, index)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    height, width = gray.shape
    assert truth.words
    for word in truth.words:
        quad = np.array(word.quad)
        assert (quad >= 0).all() and (quad[:, 0] <= width).all() and (quad[:, 1] <= height).all()
        grow_px = max(2, round(0.12 * _word_height_px(quad)))
        inside = _mask(gray.shape, quad, 0)
        band = _mask(gray.shape, quad, 1 + grow_px) & ~_mask(gray.shape, quad, 1)
        board = float(np.median(gray[band]))  # just outside a word is the bare sign board
        assert _contrast_share(gray, inside, board) > 0.1, f"no ink inside the quad of {word.text!r}"
        assert _contrast_share(gray, band, board) < 0.15, f"ink outside the quad of {word.text!r}"


def test_phrasebook_has_enough_unique_translated_entries() -> None:
    entries = load_phrasebook()
    assert len(entries) >= 200
    assert len({e.id for e in entries}) == len(entries)
    assert all(e.es and e.en.isascii() for e in entries)
    assert sum(e.de is not None for e in entries) >= 200


@pytest.mark.parametrize(
    "body",
    [
        "p0001\tshop\tPush\tEmpujar\tDrücken\np0001\tshop\tPull\tTirar\tZiehen\n",  # duplicate id
        "p0001\tshop\tPush\tEmpujar\n",  # missing column
        "p0001\tshop\tPush\t\tDrücken\n",  # empty Spanish
    ],
)
def test_phrasebook_rejects_bad_rows(tmp_path: Path, body: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("\t".join(COLUMNS) + "\n" + body, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.tsv:\d"):
        load_phrasebook(path)


def test_bad_options_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="easy, medium, hard"):
        SceneOptions(difficulty="nightmare")
    with pytest.raises(ConfigError):
        SceneOptions(target_lang="fr")


def test_german_target_uses_german_references() -> None:
    german = {e.de for e in load_phrasebook() if e.de}
    options = dataclasses.replace(EASY, target_lang="de")
    assert all(generate_scene(options, k)[1].reference_translation in german for k in range(4))


def test_source_loops_with_increasing_frame_ids() -> None:
    source = SyntheticSource(dataclasses.replace(EASY, n=2))
    source.open()
    frames = list(itertools.islice(source.frames(), 5))
    source.close()
    assert [f.frame_id for f in frames] == [0, 1, 2, 3, 4]
    assert [f.name for f in frames] == ["scene_00000", "scene_00001"] * 2 + ["scene_00000"]
    assert frames[0].image.tobytes() == frames[2].image.tobytes() and frames[0].image is not frames[2].image
    assert frames[0].source == "synthetic:easy:seed11" and frames[0].ground_truth is not None
    assert all(b.capture_ns >= a.capture_ns for a, b in itertools.pairwise(frames))


def test_source_without_loop_stops() -> None:
    source = SyntheticSource(dataclasses.replace(EASY, n=3, loop=False))
    source.open()
    assert len(list(source.frames())) == 3


# --- readability by a real OCR ----------------------------------------------------------------------


def _normalize(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _words_read(truth: GroundTruth, texts: list[str]) -> tuple[int, int]:
    """GT words whose every character is matched in the OCR output (spaces between words ignored)."""
    words = [w for w in (_normalize(word.text) for word in truth.words) if w]
    joined, read = "".join(words), "".join(_normalize(t) for t in texts)
    matched = [False] * len(joined)
    for block in difflib.SequenceMatcher(None, joined, read, autojunk=False).get_matching_blocks():
        matched[block.a : block.a + block.size] = [True] * block.size
    starts = list(itertools.accumulate((len(w) for w in words), initial=0))
    return sum(all(matched[s : s + len(w)]) for s, w in zip(starts, words, strict=False)), len(words)


def _recognition_rate(engine: object, options: SceneOptions) -> float:
    hits = total = 0
    for k in range(options.n):
        image, truth = generate_scene(options, k)
        result, _ = engine(image)  # type: ignore[operator]
        read, count = _words_read(truth, [line[1] for line in result or []])
        hits, total = hits + read, total + count
    return hits / total


@pytest.mark.slow
def test_easy_scenes_are_read_by_a_real_ocr(capsys: pytest.CaptureFixture[str]) -> None:
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    engine = rapidocr.RapidOCR()
    rates = {d: _recognition_rate(engine, dataclasses.replace(EASY, difficulty=d)) for d in ("easy", "medium", "hard")}
    with capsys.disabled():
        print("\nRapidOCR word recognition on 6 scenes: " + ", ".join(f"{d} {r:.0%}" for d, r in rates.items()))
    assert rates["easy"] >= 0.7
