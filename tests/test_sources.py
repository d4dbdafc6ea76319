"""Sources: ICDAR 2015 read in place (counts from its README), image folders with ground truth, video files."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.errors import DataMissing
from harness.paths import data_root
from harness.sources.icdar2015 import Icdar2015Options, Icdar2015Source, parse_gt_file
from harness.sources.images import ImageFolderOptions, ImageFolderSource
from harness.sources.synthetic import SceneOptions, generate_scene, write_scene_set
from harness.sources.video import VideoOptions, VideoSource

IC15 = data_root() / "icdar2015_incidental_test200"


@pytest.mark.skipif(not IC15.is_dir(), reason=f"shared data not present at {IC15}")
def test_icdar2015_counts_match_its_readme() -> None:
    truths = [parse_gt_file(p) for p in sorted((IC15 / "gt").glob("gt_img_*.txt"))]
    words = [w for t in truths for w in t.words]
    assert len(truths) == 200
    assert len(words) == 2279
    assert sum(not w.dont_care for w in words) == 862
    assert sum(1 for t in truths if any(not w.dont_care for w in t.words)) == 197
    assert any("," in w.text for w in words)  # transcriptions with commas survive the 8-comma split


@pytest.mark.skipif(not IC15.is_dir(), reason=f"shared data not present at {IC15}")
def test_icdar2015_source_yields_frames_in_numeric_order() -> None:
    source = Icdar2015Source(Icdar2015Options(limit=3, loop=False))
    source.open()
    frames = list(source.frames())
    source.close()
    assert [f.name for f in frames] == ["img_1.jpg", "img_2.jpg", "img_3.jpg"]
    assert frames[0].image.shape == (720, 1280, 3)
    assert frames[0].ground_truth is not None and frames[0].ground_truth.words


def test_icdar2015_missing_root_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match=str(tmp_path / "images")):
        Icdar2015Source(Icdar2015Options(root=str(tmp_path))).open()


def test_image_folder_reads_synth_ground_truth(tmp_path: Path) -> None:
    options = SceneOptions(seed=5, n=2)
    write_scene_set(options, tmp_path)
    source = ImageFolderSource(ImageFolderOptions(path=str(tmp_path), loop=True))
    source.open()
    frames = list(itertools.islice(source.frames(), 3))
    _, truth = generate_scene(options, 0)
    assert [f.frame_id for f in frames] == [0, 1, 2]
    assert frames[2].name == frames[0].name  # looped
    assert frames[0].ground_truth is not None
    assert frames[0].ground_truth.source_text == truth.source_text
    assert frames[0].ground_truth.reference_translation == truth.reference_translation


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match="image folder not found"):
        ImageFolderSource(ImageFolderOptions(path=str(tmp_path / "x"))).open()
    with pytest.raises(DataMissing, match="no images matching"):
        ImageFolderSource(ImageFolderOptions(path=str(tmp_path))).open()


def test_video_file_frames_in_order(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for value in range(5):
        writer.write(np.full((48, 64, 3), value * 50, np.uint8))
    writer.release()
    source = VideoSource(VideoOptions(path=str(path)))
    source.open()
    frames = list(source.frames())
    source.close()
    assert source.fps == pytest.approx(10.0)
    assert len(frames) == 5
    assert [round(float(f.image.mean()) / 50) for f in frames] == [0, 1, 2, 3, 4]
    assert all(a.capture_ns <= b.capture_ns for a, b in itertools.pairwise(frames))


def test_video_missing_or_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match="video file not found"):
        VideoSource(VideoOptions(path=str(tmp_path / "none.mp4"))).open()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    with pytest.raises(DataMissing, match="cannot decode video"):
        VideoSource(VideoOptions(path=str(junk))).open()


def test_undecodable_image_is_a_failed_frame_and_the_source_goes_on(tmp_path: Path) -> None:
    write_scene_set(SceneOptions(seed=5, n=2), tmp_path)
    (tmp_path / "scene_00000.png").write_bytes(b"not a png")
    source = ImageFolderSource(ImageFolderOptions(path=str(tmp_path), loop=False))
    source.open()
    frames = list(source.frames())
    assert [f.name for f in frames] == ["scene_00000.png", "scene_00001.png"]
    assert frames[0].image is None and "cannot read image" in (frames[0].error or "")
    assert frames[1].image is not None and frames[1].error is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"file": "a.png", "source_text": "caf\xe9"}\n', "not UTF-8 (byte"),
        (b"[1, 2, 3]\n", "expected a JSON object, got list"),
        (b'{"file": "a.png"\n', "bad ground-truth line"),
    ],
)
@pytest.mark.faults
def test_a_damaged_ground_truth_file_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    from harness.sources.images import load_truth_jsonl

    path = tmp_path / "truth.jsonl"
    path.write_bytes(b'{"file": "ok.png"}\n' + content)
    with pytest.raises(DataMissing, match=rf"truth.jsonl:2: .*{re.escape(message)}"):
        load_truth_jsonl(path)


def test_a_jpeg_cut_short_is_a_failed_frame_not_a_grey_one(tmp_path: Path) -> None:
    from harness.sources.files import read_image

    image, _ = generate_scene(SceneOptions(seed=4), 0)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    whole, padded, cut = tmp_path / "whole.jpg", tmp_path / "padded.jpg", tmp_path / "cut.jpg"
    whole.write_bytes(jpeg.tobytes())
    padded.write_bytes(jpeg.tobytes() + b"\0" * 100)  # padding after the end marker is harmless
    cut.write_bytes(jpeg.tobytes()[: len(jpeg) * 2 // 3])  # as a copy interrupted mid-file leaves it
    assert cv2.imread(str(cut)) is not None  # libjpeg decodes it anyway, grey below the cut
    assert read_image(whole).shape == read_image(padded).shape == image.shape
    with pytest.raises(DataMissing, match="a JPEG cut short"):
        read_image(cut)
