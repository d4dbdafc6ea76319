"""Word-crop frames (IIIT5K, IC15 word crops) are recognized whole by every OCR backend, without detection."""

from __future__ import annotations

import pytest

from harness.context import BackendContext
from harness.metrics.text import normalize
from harness.ocr.rapidocr import RapidOcrOptions
from harness.paths import data_root
from harness.sources.word_crops import Iiit5kOptions, Iiit5kSource
from harness.testing.backends import open_backend
from harness.trace import Tracer

IIIT5K_DIR = data_root() / "iiit5k_test1000"
pytestmark = pytest.mark.skipif(not IIIT5K_DIR.is_dir(), reason=f"shared data not present at {IIIT5K_DIR}")


@pytest.fixture(scope="module")
def crops():
    source = Iiit5kSource(Iiit5kOptions(limit=30, loop=False))
    source.open()
    try:
        return list(source.frames())
    finally:
        source.close()


def _read(backend, crops) -> tuple[int, list[list[str]]]:
    correct, spans = 0, []
    for frame in crops:
        tracer = Tracer()
        regions = backend.recognize(frame, tracer)
        height, width = frame.image.shape[:2]
        assert len(regions) <= 1
        if regions:
            assert regions[0].quad == ((0.0, 0.0), (width, 0.0), (width, height), (0.0, height))
            correct += normalize(regions[0].text) == normalize(frame.ground_truth.source_text)
        spans.append([s.name for s in tracer.spans])
    return correct, spans


def test_crop_sources_flag_their_frames(crops) -> None:
    assert crops and all(frame.word_crop for frame in crops)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_rapidocr_recognizes_word_crops_without_detection(crops, precision: str) -> None:
    # use_det on, as in a scene experiment
    backend = open_backend("ocr", "rapidocr", RapidOcrOptions(precision=precision), BackendContext(threads=2))
    correct, spans = _read(backend, crops)
    assert all("ocr.det" not in names and "ocr.rec" in names for names in spans)
    assert correct >= 0.7 * len(crops), correct  # PP-OCRv4 reads ~90% of IIIT5K


def test_litert_recognizes_word_crops_without_detection(crops) -> None:
    pytest.importorskip("ai_edge_litert")
    from harness.ocr.litert import LiteRtOptions

    backend = open_backend("ocr", "litert", LiteRtOptions(precision="fp16"), BackendContext(threads=2))
    correct, spans = _read(backend, crops)
    assert all("ocr.det" not in names and "ocr.rec" in names for names in spans)
    assert correct >= 0.7 * len(crops), correct


def test_tesseract_reads_word_crops_as_single_words(crops) -> None:
    pytest.importorskip("tesserocr")
    from harness.ocr.tesseract import Tesseract, TesseractOptions

    backend = Tesseract(TesseractOptions(min_confidence=0.9), BackendContext(threads=2))
    try:
        correct, _ = _read(backend, crops)
    finally:
        backend.close()
    assert correct >= 0.5 * len(crops), correct  # psm 8 reads 21 of these 30
