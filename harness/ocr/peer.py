"""The OCR halves of the pipelines a user writes first, run inside the harness as tracked baselines.

- ``rapidocr-library``: one ``RapidOCR()`` engine with the package's defaults, built once and called on
  each frame (``engine(image)``): the library as shipped, with no setting of arbench's own.
- ``tesseract-cli``: ``tesseract stdin stdout`` run as a new process per frame, the frame sent as a PNG
  (what a script that shells out to the command does); every output line is one region. The command
  gives no boxes, so each region's quad is the whole frame: detection figures of this peer are not
  comparable with the others'.

experiments/peer.toml runs them with their MT halves (``harness.mt.apertium_cli``, the Transformers
peer) beside arbench's best local configuration, so every report has the ratio.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError
from harness.trace import Tracer
from harness.types import Frame, TextRegion, quad_from_array

__all__ = ["PeerOcr", "PeerOcrOptions", "preflight"]

ENGINES = ("rapidocr-library", "tesseract-cli")


@dataclass(frozen=True)
class PeerOcrOptions:
    """``engine``: "rapidocr-library" or "tesseract-cli"; ``lang``: Tesseract's ``-l`` (tesseract-cli only)."""

    engine: str = "rapidocr-library"
    lang: str = "eng"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"peer ocr engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")


def preflight(options: PeerOcrOptions, context: BackendContext) -> None:
    """Check before a run that the engine's library or program is installed."""
    if options.engine == "tesseract-cli" and shutil.which("tesseract") is None:
        raise BackendUnavailable("peer ocr: `tesseract` not found; run `apt-get install tesseract-ocr tesseract-ocr-eng`")
    if options.engine == "rapidocr-library":
        from importlib.util import find_spec

        if find_spec("rapidocr_onnxruntime") is None:
            raise BackendUnavailable("peer ocr: rapidocr-onnxruntime missing; run `pip install rapidocr-onnxruntime`")


class PeerOcr:
    """A naive pipeline's OCR: the library called whole, or the command run per frame."""

    name = "peer"

    def __init__(self, options: PeerOcrOptions, context: BackendContext | None = None) -> None:
        self.options = options
        preflight(options, context or BackendContext())
        self._engine: Any = None
        if options.engine == "rapidocr-library":
            from rapidocr_onnxruntime import RapidOCR

            self._engine = RapidOCR()

    def model_files(self) -> tuple[Path, ...]:
        if self._engine is None:
            return ()
        import rapidocr_onnxruntime

        return tuple(sorted((Path(rapidocr_onnxruntime.__file__).parent / "models").glob("*.onnx")))  # what RapidOCR() loads

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        if frame.image is None:
            raise ValueError("the peer OCR needs an image; this frame carries only text")
        if self._engine is not None:
            result, _ = self._engine(frame.image)
            return [TextRegion(quad_from_array(box), str(text), float(score)) for box, text, score in result or []]
        return self._tesseract(frame)

    def _tesseract(self, frame: Frame) -> list[TextRegion]:
        assert frame.image is not None
        ok, png = cv2.imencode(".png", frame.image)
        if not ok:
            raise ValueError("cannot encode the frame as PNG for tesseract")
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", self.options.lang], input=png.tobytes(), capture_output=True, timeout=60, check=False
        )
        if done.returncode != 0:
            first = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"tesseract exited with {done.returncode}: {first[-1] if first else 'no message'}")
        height, width = (float(side) for side in frame.image.shape[:2])
        whole = ((0.0, 0.0), (width, 0.0), (width, height), (0.0, height))
        lines = [line.strip() for line in done.stdout.decode("utf-8", "replace").splitlines()]
        return [TextRegion(whole, line, 1.0) for line in lines if line]

    def close(self) -> None:
        self._engine = None
