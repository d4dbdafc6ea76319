"""Cameras: absent devices and unsupported pipelines are one-line errors (exit 2 from the CLI, before any
run directory exists); the read and record path works on a real OpenCV capture of a video file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.context import BackendContext
from harness.errors import BackendUnavailable
from harness.sources.camera import CameraOptions, CameraSource, gstreamer_available
from harness.sources.video import VideoOptions, VideoSource

REPO = Path(__file__).resolve().parent.parent


def test_absent_camera_is_a_clear_error() -> None:
    with pytest.raises(BackendUnavailable, match=r"camera '/dev/video97' could not be opened: absent, busy"):
        CameraSource(CameraOptions(device="/dev/video97")).open()


@pytest.mark.skipif(gstreamer_available(), reason="this OpenCV has GStreamer")
def test_pipeline_without_gstreamer_names_the_fix() -> None:
    profile_pipeline = "nvarguscamerasrc sensor-id=0 ! nvvidconv ! appsink"
    source = CameraSource(CameraOptions(), BackendContext(camera=profile_pipeline))
    assert source.device == profile_pipeline
    with pytest.raises(BackendUnavailable, match="no GStreamer support"):
        source.open()


def test_cli_run_with_an_absent_camera_exits_2_without_a_run_dir(tmp_path: Path) -> None:
    experiment = tmp_path / "cam.toml"
    experiment.write_text('[[sources]]\nid = "cam"\nkind = "camera"\ndevice = "/dev/video97"\n')
    out = tmp_path / "results"
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(experiment), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "could not be opened" in result.stderr
    assert not out.exists()


def test_reads_and_records_frames_for_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (64, 48))
    for value in range(6):
        writer.write(np.full((48, 64, 3), value * 40, np.uint8))
    writer.release()
    # The hardware boundary: a real cv2.VideoCapture, on a file instead of /dev/video0.
    monkeypatch.setattr(CameraSource, "_open_capture", lambda self: cv2.VideoCapture(str(clip)))
    record = tmp_path / "rec"
    camera = CameraSource(CameraOptions(device="0", width_px=64, height_px=48, fps=30.0, record=str(record), limit=4))
    camera.open()
    frames = list(camera.frames())
    camera.close()
    assert len(frames) == 4
    assert camera.info["requested_fps"] == 30.0 and camera.info["actual_fps"] == pytest.approx(15.0)
    assert (camera.info["actual_width_px"], camera.info["actual_height_px"]) == (64, 48)
    times = [json.loads(line) for line in (record / "timestamps.jsonl").read_text().splitlines()]
    assert [t["frame_id"] for t in times] == [0, 1, 2, 3]
    assert [t["capture_ns"] for t in times] == [f.capture_ns for f in frames]
    replay = VideoSource(VideoOptions(path=str(record / "video.avi")))
    replay.open()
    replayed = list(replay.frames())
    replay.close()
    assert len(replayed) == 4
    assert [round(float(f.image.mean()) / 40) for f in replayed] == [0, 1, 2, 3]
