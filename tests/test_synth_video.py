"""Synthetic videos and occluded scenes: determinism, ground truth that follows the camera, files, readability."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import itertools
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.errors import ConfigError
from harness.sources.synth_video import SyntheticVideoOptions, SyntheticVideoSource, VideoFrameTruth, generate_video, write_synthetic_video
from harness.sources.synthetic import SceneOptions, generate_scene, scene_occluder

SHORT = SyntheticVideoOptions(seed=3, motion="shake", fps=10.0, duration_s=0.6)
PAN = SyntheticVideoOptions(seed=1, motion="pan", fps=10.0, duration_s=4.0)


@functools.cache
def _render(options: SyntheticVideoOptions) -> tuple[tuple[np.ndarray, VideoFrameTruth], ...]:
    return tuple(generate_video(options))


def test_same_options_give_identical_videos() -> None:
    first = _render(SHORT)
    again = tuple(generate_video(dataclasses.replace(SHORT)))
    assert len(first) == SHORT.frame_count == 6
    assert first[0][0].dtype == np.uint8 and first[0][0].shape == (SHORT.height_px, SHORT.width_px, 3)
    assert [image.tobytes() for image, _ in first] == [image.tobytes() for image, _ in again]
    assert [truth for _, truth in first] == [truth for _, truth in again]


def test_different_seed_gives_a_different_video() -> None:
    other = next(generate_video(dataclasses.replace(SHORT, seed=4)))
    assert other[0].tobytes() != _render(SHORT)[0][0].tobytes()


def test_frames_differ_over_time() -> None:
    images = [image for image, _ in _render(SHORT)]
    assert all(a.tobytes() != b.tobytes() for a, b in itertools.pairwise(images))


def _centre_x(quad: tuple) -> float:
    return float(np.mean([x for x, _ in quad]))


def test_pan_moves_word_quads_left_while_the_camera_pans_right() -> None:
    tracks: dict[tuple[str, str], list[float]] = {}
    for _, truth in _render(PAN):
        for word, sign_id in zip(truth.ground_truth.words, truth.sign_ids, strict=True):
            tracks.setdefault((sign_id, word.text), []).append(_centre_x(word.quad))
    long_tracks = {key: xs for key, xs in tracks.items() if len(xs) >= 5}
    assert len({sign for sign, _ in long_tracks}) == PAN.signs
    for key, xs in long_tracks.items():
        steps = np.diff(xs)
        assert (steps < 0.05).all(), f"{key} moved right: {xs}"
        assert xs[0] - xs[-1] > 100, f"{key} barely moved: {xs}"


def _to_frame(quad: tuple, from_truth: VideoFrameTruth, to_truth: VideoFrameTruth) -> np.ndarray:
    """A quad of one frame, carried through the world into another frame."""
    carry = np.array(to_truth.homography) @ np.linalg.inv(np.array(from_truth.homography))
    return cv2.perspectiveTransform(np.array(quad, np.float64).reshape(-1, 1, 2), carry).reshape(4, 2)


def test_words_out_of_view_are_absent_and_words_at_the_edge_are_dont_care() -> None:
    frames = [truth for _, truth in _render(PAN)]
    first, last = frames[0], frames[-1]
    assert "s1" not in first.sign_ids and "s0" not in last.sign_ids
    for word, sign_id in zip(last.ground_truth.words, last.sign_ids, strict=True):
        if sign_id == "s1":
            assert _to_frame(word.quad, last, first)[:, 0].min() > PAN.width_px  # wholly right of frame 0
    width, height = PAN.width_px, PAN.height_px
    edge_words = 0
    for truth in frames:
        for word in truth.ground_truth.words:
            quad = np.array(word.quad)
            inside = (quad >= -0.5).all() and (quad[:, 0] <= width - 0.5).all() and (quad[:, 1] <= height - 0.5).all()
            assert quad[:, 0].max() > -0.5 and quad[:, 0].min() < width - 0.5
            edge_words += not inside
            assert word.dont_care or inside
    assert edge_words > 0


def test_source_text_joins_visible_signs_left_to_right() -> None:
    for _, truth in _render(PAN):
        texts = {
            sign: " ".join(w.text for w, s in zip(truth.ground_truth.words, truth.sign_ids, strict=True) if s == sign)
            for sign in truth.sign_ids
        }
        expected = " ".join(texts[sign] for sign in truth.visible_signs)
        if all(not w.dont_care for w in truth.ground_truth.words):
            assert truth.ground_truth.source_text == expected
        assert bool(truth.visible_signs) == (truth.ground_truth.reference_translation is not None)
        assert len(truth.sign_ids) == len(truth.ground_truth.words)


def test_word_quads_hold_the_ink() -> None:
    image, truth = _render(SHORT)[3]
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    checked = 0
    for word in truth.ground_truth.words:
        if word.dont_care:
            continue
        inside = _mask(gray.shape, np.array(word.quad), 0)
        band = _mask(gray.shape, np.array(word.quad), 4) & ~_mask(gray.shape, np.array(word.quad), 1)
        board = float(np.median(gray[band]))
        assert np.mean(np.abs(gray[inside] - board) > 50) > 0.1, f"no ink inside {word.text!r}"
        assert np.mean(np.abs(gray[band] - board) > 50) < 0.15, f"ink outside {word.text!r}"
        checked += 1
    assert checked


def _mask(shape: tuple[int, ...], quad: np.ndarray, grow_px: int) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(quad).astype(np.int32)], 1)
    if grow_px:
        mask = cv2.dilate(mask, np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8))
    return mask.astype(bool)


@pytest.mark.parametrize("motion", ["zoom", "walk"])
def test_every_motion_keeps_a_sign_in_view(motion: str) -> None:
    options = dataclasses.replace(SHORT, motion=motion, duration_s=1.0, fps=5.0)
    truths = [truth for _, truth in generate_video(options)]
    assert sum(bool(t.visible_signs) for t in truths) >= len(truths) // 2
    assert truths[0].homography != truths[-1].homography


# --- files --------------------------------------------------------------------------------------------


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_synthetic_video_is_byte_identical_and_the_avi_plays(tmp_path: Path) -> None:
    options = dataclasses.replace(SHORT, motion="pan", fps=12.0, duration_s=0.5)
    avi = write_synthetic_video(options, tmp_path / "a")
    write_synthetic_video(options, tmp_path / "b")
    first, second = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    stable = [name for name in first if name != "video.avi"]
    assert [first[n] for n in stable] == [second[n] for n in stable]
    assert sorted(n for n in first if n.startswith("frames/")) == [f"frames/frame_{i:05d}.png" for i in range(6)]
    records = [json.loads(line) for line in (tmp_path / "a" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["frame"] for r in records] == list(range(6)) and records[1]["t_s"] == pytest.approx(1 / 12)
    assert {"quad", "text", "sign_id", "dont_care"} <= set(records[0]["words"][0])
    manifest = json.loads((tmp_path / "a" / "video.json").read_text(encoding="utf-8"))
    assert manifest["frame_count"] == 6 and manifest["options"]["motion"] == "pan"

    capture = cv2.VideoCapture(str(avi))
    assert capture.isOpened()
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    decoded = []
    while (frame := capture.read())[0]:
        decoded.append(frame[1])
    capture.release()
    assert len(decoded) == 6
    png = cv2.imread(str(tmp_path / "a" / "frames" / "frame_00002.png"))
    assert np.abs(decoded[2].astype(int) - png.astype(int)).mean() < 6  # Motion-JPEG of the same pixels


def test_source_yields_frames_once_or_looping() -> None:
    source = SyntheticVideoSource(SHORT)
    source.open()
    frames = list(source.frames())
    source.close()
    assert len(frames) == SHORT.frame_count and source.fps == 10.0
    assert frames[0].source == "synthvideo:shake:easy:seed3" and frames[5].name == "frame_00005"
    assert frames[0].ground_truth == _render(SHORT)[0][1].ground_truth
    assert frames[0].image.tobytes() == _render(SHORT)[0][0].tobytes()
    looping = SyntheticVideoSource(dataclasses.replace(SHORT, loop=True))
    looping.open()
    again = list(itertools.islice(looping.frames(), 8))
    assert [f.frame_id for f in again] == list(range(8)) and again[6].name == "frame_00000"
    assert again[6].image is not again[0].image and again[6].image.tobytes() == again[0].image.tobytes()
    assert all(b.capture_ns >= a.capture_ns for a, b in itertools.pairwise(again))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("motion", "orbit"),
        ("difficulty", "nightmare"),
        ("target_lang", "fr"),
        ("fps", 0.0),
        ("duration_s", 0.0),
        ("width_px", 100),
        ("signs", 0),
        ("signs", 7),
        ("seed", -1),
    ],
)
def test_bad_options_raise_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SyntheticVideoOptions(**{field: value})


# --- occlusion in still scenes ------------------------------------------------------------------------


def test_easy_scenes_have_no_occluder() -> None:
    assert not scene_occluder(SceneOptions(seed=0, n=2), 1).any()


def test_hard_scenes_mark_occluded_words_dont_care() -> None:
    found = []
    for seed, index in itertools.product(range(8), range(6)):
        options = SceneOptions(seed=seed, n=6, difficulty="hard")
        _, truth = generate_scene(options, index)
        hidden = [word for word in truth.words if word.dont_care]
        if hidden:
            occluder = scene_occluder(options, index) > 0.5
            for word in hidden:
                quad = _mask(occluder.shape, np.array(word.quad), 0)
                found.append(float(occluder[quad].mean()))
            assert truth.source_text == " ".join(word.text for word in truth.words)  # the phrase, hidden words too
    assert found, "no occluded word in 48 hard scenes"
    assert min(found) > 0.4


def test_hard_videos_mark_words_behind_poles_and_boxes_dont_care() -> None:
    inside_but_hidden = 0
    for seed in range(4, 8):  # one sign, filmed close: seed 6 has a word behind a pole
        options = SyntheticVideoOptions(seed=seed, motion="shake", difficulty="hard", signs=1, fps=1.0, duration_s=1.0)
        _, truth = next(generate_video(options))
        for word in truth.ground_truth.words:
            quad = np.array(word.quad)
            inside = (quad >= -0.5).all() and (quad[:, 0] <= options.width_px - 0.5).all() and (quad[:, 1] <= options.height_px - 0.5).all()
            inside_but_hidden += bool(inside and word.dont_care)
    assert inside_but_hidden


# --- readability by a real OCR ------------------------------------------------------------------------


def _normalize(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _words_read(words: list[str], texts: list[str]) -> int:
    """Words whose every character is matched in the OCR output (PP-OCR drops spaces, so they are ignored)."""
    words = [w for w in map(_normalize, words) if w]
    joined, read = "".join(words), "".join(map(_normalize, texts))
    matched = [False] * len(joined)
    for block in difflib.SequenceMatcher(None, joined, read, autojunk=False).get_matching_blocks():
        matched[block.a : block.a + block.size] = [True] * block.size
    starts = itertools.accumulate((len(w) for w in words), initial=0)
    return sum(all(matched[s : s + len(w)]) for s, w in zip(starts, words, strict=False))


@pytest.mark.slow
def test_easy_pan_frames_are_read_by_a_real_ocr() -> None:
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    engine = rapidocr.RapidOCR()
    whole = [
        (image, truth) for image, truth in _render(PAN) if truth.visible_signs and not any(w.dont_care for w in truth.ground_truth.words)
    ]
    assert len(whole) >= 3
    hits = total = 0
    for image, truth in whole[:: len(whole) // 3][:3]:
        result, _ = engine(image)
        words = [word.text for word in truth.ground_truth.words]
        hits, total = hits + _words_read(words, [line[1] for line in result or []]), total + len(words)
    assert hits >= 0.7 * total, f"RapidOCR read {hits} of {total} words"
