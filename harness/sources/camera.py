"""Live cameras through OpenCV: V4L2 devices and GStreamer pipelines.

V4L2 devices are an index or /dev/videoN; GStreamer pipelines cover the Jetson CSI ``nvarguscamerasrc``
pipeline and the Pi camera through ``libcamerasrc``.

The resolution and frame rate asked for and those the driver actually gives are both recorded in
``info`` (they often differ). Frames can be recorded while they are measured — an MJPG video plus the
capture timestamps — so a run can be replayed later through the ``video`` source.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2

from harness.context import BackendContext
from harness.errors import BackendUnavailable
from harness.sources.base import SourceBase, opens
from harness.types import Frame

__all__ = ["CameraOptions", "CameraSource", "gstreamer_available"]


@dataclass(frozen=True)
class CameraOptions:
    """A camera and the format to ask it for.

    ``device``: an index ("0"), a device node ("/dev/video0"), a GStreamer pipeline ending in
    ``appsink``, or "" for the device profile's camera. ``record``: a folder to record the frames to
    (None: don't). ``limit``: stop after this many frames (0: never).
    """

    device: str = ""
    width_px: int = 1280
    height_px: int = 720
    fps: float = 30.0
    record: str | None = None
    limit: int = 0


def gstreamer_available() -> bool:
    """Whether this OpenCV build can open GStreamer pipelines."""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


def _is_pipeline(device: str) -> bool:
    return "!" in device


def _v4l2_target(device: str) -> int | str:
    """OpenCV's V4L2 backend opens indices, not names: "0" and "/dev/video0" both become 0."""
    number = device.removeprefix("/dev/video")
    return int(number) if number.isdigit() else device


class CameraSource(SourceBase):
    """Frames from a live camera; each ``read`` is the measured capture."""

    live = True
    rewindable = False  # what it saw cannot be read again
    timed = True

    def __init__(self, options: CameraOptions, context: BackendContext | None = None) -> None:
        self.options = options
        self.device = options.device or (context.camera if context else "0")
        self.name = f"camera:{self.device if not _is_pipeline(self.device) else self.device.split('!')[0].strip()}"
        self.fps = options.fps
        self.info: dict[str, Any] = {}
        self._capture: Any = None
        self._recorder: _Recorder | None = None

    def open(self) -> None:
        self._capture = self._open_capture()
        self.info = self._negotiated()
        self.fps = self.info["actual_fps"] or self.options.fps
        if self.options.record:
            self._recorder = _Recorder(Path(self.options.record), self.info)

    def _open_capture(self) -> Any:
        cv2.utils.logging.setLogLevel(
            cv2.utils.logging.LOG_LEVEL_ERROR
        )  # errors only: a missing camera is reported below in one line, not by OpenCV's warnings
        if _is_pipeline(self.device):
            if not gstreamer_available():
                raise BackendUnavailable(
                    f"{self.name}: this OpenCV has no GStreamer support; install the distribution's OpenCV"
                    " (apt-get install python3-opencv) or use a V4L2 device"
                )
            capture = cv2.VideoCapture(self.device, cv2.CAP_GSTREAMER)
        else:
            capture = cv2.VideoCapture(_v4l2_target(self.device), cv2.CAP_V4L2)
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.options.width_px)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.options.height_px)
            capture.set(cv2.CAP_PROP_FPS, self.options.fps)
        if not capture.isOpened():
            raise BackendUnavailable(
                f"camera {self.device!r} could not be opened: absent, busy or not permitted;"
                " check `v4l2-ctl --list-devices` and that no other program holds it"
            )
        return capture

    def _negotiated(self) -> dict[str, Any]:
        capture = self._capture
        return {
            "device": self.device,
            "requested_width_px": self.options.width_px,
            "requested_height_px": self.options.height_px,
            "requested_fps": self.options.fps,
            "actual_width_px": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "actual_height_px": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "actual_fps": float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            "backend": capture.getBackendName(),
        }

    def frames(self) -> Iterator[Frame]:
        frame_id = 0
        while not self.options.limit or frame_id < self.options.limit:
            ok, image = self._capture.read()
            captured = time.monotonic_ns()
            if not ok:
                return
            if self._recorder is not None:
                self._recorder.write(image, frame_id, captured)
            yield Frame(frame_id, captured, image, self.name, f"frame_{frame_id:06d}")
            frame_id += 1

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class _Recorder:
    """Writes frames to video.avi (MJPG) and their capture times to timestamps.jsonl."""

    def __init__(self, folder: Path, info: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.fps = info["actual_fps"] or info["requested_fps"]
        self._video: Any = None
        self._times: IO[str] = (folder / "timestamps.jsonl").open("w", encoding="utf-8")
        (folder / "camera.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    def write(self, image: Any, frame_id: int, capture_ns: int) -> None:
        if self._video is None:
            height, width = image.shape[:2]
            self._video = cv2.VideoWriter(str(self.folder / "video.avi"), cv2.VideoWriter_fourcc(*"MJPG"), self.fps, (width, height))
        self._video.write(image)
        self._times.write(json.dumps({"frame_id": frame_id, "capture_ns": capture_ns}) + "\n")

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
        self._times.close()


preflight = opens(CameraSource)  # before a run: the files (or the camera) are there and open
