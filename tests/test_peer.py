"""The naive pipelines run inside the harness: each half does exactly what the command or library call does."""

from __future__ import annotations

import subprocess

import cv2
import pytest

from harness.context import BackendContext
from harness.errors import ConfigError
from harness.mt.apertium_cli import ApertiumCli, ApertiumCliOptions
from harness.ocr.peer import PeerOcr, PeerOcrOptions
from harness.sources.synthetic import SceneOptions, generate_scene
from harness.trace import Tracer
from harness.types import Frame
from tests.conftest import needs_apertium


@needs_apertium
def test_apertium_cli_translates_the_frames_lines_together_as_the_command_does() -> None:
    backend = ApertiumCli(ApertiumCliOptions())
    lines = ["Next", "train"]
    command = subprocess.run(["apertium", "-u", "eng-spa"], input="Next\ntrain", capture_output=True, text=True, check=True).stdout
    tracer = Tracer()
    assert backend.translate(lines, tracer) == [line.strip() for line in command.strip().split("\n")]
    assert [s.name for s in tracer.spans] == ["mt.translate"] and tracer.spans[0].attrs["model_ns"] > 0
    assert len(backend.translate(["Wet floor", "Do not touch", "Exit"])) == 3


def test_library_peer_reads_what_rapidocr_reads() -> None:
    from rapidocr_onnxruntime import RapidOCR

    image, _ = generate_scene(SceneOptions(seed=2, difficulty="easy"), 0)
    expected, _ = RapidOCR()(image)
    peer = PeerOcr(PeerOcrOptions(engine="rapidocr-library"), BackendContext())
    regions = peer.recognize(Frame(0, 0, image), Tracer())
    assert [(r.text, r.confidence) for r in regions] == [(e[1], pytest.approx(e[2])) for e in expected]
    assert {p.suffix for p in peer.model_files()} == {".onnx"} and len(peer.model_files()) == 3


def test_tesseract_peer_returns_the_commands_lines_over_the_whole_frame() -> None:
    image, _ = generate_scene(SceneOptions(seed=0, difficulty="easy"), 2)
    ok, png = cv2.imencode(".png", image)
    assert ok
    command = subprocess.run(["tesseract", "stdin", "stdout", "-l", "eng"], input=png.tobytes(), capture_output=True, check=True)
    lines = [line.strip() for line in command.stdout.decode().splitlines() if line.strip()]
    regions = PeerOcr(PeerOcrOptions(engine="tesseract-cli"), BackendContext()).recognize(Frame(0, 0, image), Tracer())
    assert [r.text for r in regions] == lines and lines  # this sign is one tesseract reads ("Boat" / "trips")
    height, width = image.shape[:2]
    assert all(r.quad[2] == (float(width), float(height)) for r in regions)


def test_unknown_peer_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="engine must be one of rapidocr-library, tesseract-cli"):
        PeerOcrOptions(engine="paddle")
