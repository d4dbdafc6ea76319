"""Tesseract on synthetic scenes and clean text; EasyOCR's error paths and its loading path against fakes."""

from __future__ import annotations

import re
import sys
import types
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError
from harness.metrics.text import normalize
from harness.ocr import easyocr as easyocr_backend
from harness.ocr import tesseract as tesseract_backend
from harness.ocr.easyocr import EasyOcr, EasyOcrOptions, default_model_dir, recognizer_file
from harness.ocr.tesseract import Tesseract, TesseractOptions, apt_package, find_tessdata, reading_order
from harness.sources.synth_render import available_fonts
from harness.sources.synthetic import SceneOptions, generate_scene
from harness.trace import Tracer
from harness.types import Frame


def _tesseract_ready() -> bool:
    try:
        import tesserocr  # noqa: F401

        find_tessdata(TesseractOptions())
    except (ImportError, BackendUnavailable):
        return False
    return True


needs_tesseract = pytest.mark.skipif(
    not _tesseract_ready(), reason="tesserocr or eng.traineddata missing (pip install tesserocr; apt-get install tesseract-ocr-eng)"
)


def _text_image(lines: list[str], font_px: int = 48) -> np.ndarray:
    """Black DejaVu text on white, one line per entry: a page Tesseract must read."""
    font = ImageFont.truetype(str(available_fonts()[0]), font_px)
    image = Image.new("RGB", (900, 120 + 90 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((60, 60 + 90 * row), line, font=font, fill="black")
    return np.asarray(image)[:, :, ::-1].copy()  # BGR, as sources give frames


def _frame(image: np.ndarray) -> Frame:
    return Frame(0, 0, image)


@pytest.fixture(scope="module")
def tesseract_words():
    backend = Tesseract(TesseractOptions(level="word"), BackendContext())
    yield backend
    backend.close()


# --- Tesseract ----------------------------------------------------------------------------------------------


@needs_tesseract
def test_tesseract_reads_easy_synthetic_scenes(tesseract_words):
    # Measured with the defaults (psm 11, Otsu, no confidence floor) on these 16 scenes: 11 of 28 words (39%;
    # 41 of 117, 35%, on the first 60). Tesseract has no scene-text detector: brick and tile walls break its
    # global binarization (psm 6 reads 60% of easy scenes but half as much of IC15). The bar guards against a
    # broken pipeline (wrong channels, lost boxes), not against Tesseract being Tesseract.
    wanted, found = Counter(), Counter()
    for index in range(16):
        image, truth = generate_scene(SceneOptions(difficulty="easy", seed=0), index)
        regions = tesseract_words.recognize(_frame(image), Tracer())
        words = Counter(normalize(w.text) for w in truth.words if not w.dont_care)
        have = Counter(normalize(t) for region in regions for t in region.text.split())
        wanted += words
        found += Counter({word: min(count, have[word]) for word, count in words.items()})
    assert sum(found.values()) / sum(wanted.values()) >= 0.3


@needs_tesseract
def test_tesseract_word_regions_are_sane_and_in_reading_order(tesseract_words):
    image = _text_image(["OPEN DAILY", "FRESH BREAD"])
    tracer = Tracer()
    regions = tesseract_words.recognize(_frame(image), tracer)
    assert [r.text for r in regions] == ["OPEN", "DAILY", "FRESH", "BREAD"]
    height, width = image.shape[:2]
    for region in regions:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = region.quad
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y2 <= height
        assert (x1, y0) == (x1, y1) and (x2, y2) == (x1, y3) and x3 == x0  # axis-aligned, clockwise from top-left
        assert 0.5 < region.confidence <= 1.0
    tops = [r.quad[0][1] for r in regions]
    assert tops[0] < tops[2] and regions[0].quad[0][0] < regions[1].quad[0][0]
    assert [s.name for s in tracer.spans] == ["ocr.det", "ocr.rec"]
    assert tracer.spans[0].attrs["lines"] == 2


@needs_tesseract
def test_tesseract_line_level_joins_words_of_a_line():
    backend = Tesseract(TesseractOptions(level="line"), BackendContext())
    image = _text_image(["OPEN DAILY", "FRESH BREAD"])
    lines = backend.recognize(_frame(image), Tracer())
    words = Tesseract(TesseractOptions(level="word"), BackendContext()).recognize(_frame(image), Tracer())
    assert [r.text for r in lines] == ["OPEN DAILY", "FRESH BREAD"]
    first_line_words = [w for w in words if w.text in ("OPEN", "DAILY")]
    assert lines[0].quad[0][0] == min(w.quad[0][0] for w in first_line_words)
    assert lines[0].quad[2][0] == max(w.quad[2][0] for w in first_line_words)
    assert lines[0].confidence == pytest.approx(sum(w.confidence for w in first_line_words) / 2)


@needs_tesseract
def test_tesseract_blank_frame_has_no_regions_and_no_rec_span(tesseract_words):
    tracer = Tracer()
    assert tesseract_words.recognize(_frame(np.full((240, 320, 3), 255, np.uint8)), tracer) == []
    assert [s.name for s in tracer.spans] == ["ocr.det"]


@needs_tesseract
def test_tesseract_min_confidence_drops_words():
    image = _text_image(["OPEN DAILY"])
    assert Tesseract(TesseractOptions(min_confidence=1.0), BackendContext()).recognize(_frame(image), Tracer()) == []


@needs_tesseract
def test_tesseract_model_files_are_the_traineddata_used(tesseract_words):
    files = tesseract_words.model_files()
    assert [f.name for f in files] == ["eng.traineddata"]
    assert all(f.is_file() for f in files)


def test_tesseract_missing_language_names_the_apt_package():
    with pytest.raises(BackendUnavailable, match="apt-get install tesseract-ocr-xyz"):
        Tesseract(TesseractOptions(lang="eng+xyz"), BackendContext())
    assert apt_package("chi_sim") == "tesseract-ocr-chi-sim"


def test_tesseract_missing_package_says_pip_install(tmp_path, monkeypatch):
    (tmp_path / "eng.traineddata").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "tesserocr", None)
    with pytest.raises(BackendUnavailable, match="pip install tesserocr"):
        Tesseract(TesseractOptions(tessdata=str(tmp_path)), BackendContext())
    with pytest.raises(BackendUnavailable, match="pip install tesserocr"):
        tesseract_backend.preflight(TesseractOptions(tessdata=str(tmp_path)), BackendContext())


def test_tesseract_preflight_names_the_missing_language(tmp_path):
    (tmp_path / "eng.traineddata").write_bytes(b"")
    with pytest.raises(BackendUnavailable, match=rf"no spa\.traineddata in {re.escape(str(tmp_path))}.*tesseract-ocr-spa"):
        tesseract_backend.preflight(TesseractOptions(lang="eng+spa", tessdata=str(tmp_path)), BackendContext())


def test_tesseract_options_are_validated():
    with pytest.raises(ConfigError, match=r"0\.\.1"):
        TesseractOptions(min_confidence=60)
    with pytest.raises(ConfigError, match="level"):
        TesseractOptions(level="paragraph")
    with pytest.raises(ConfigError, match="thresholding"):
        TesseractOptions(thresholding="niblack")
    assert TesseractOptions(lang="eng+~spa").languages == ("eng", "spa")


def test_reading_order_is_rows_then_left_to_right():
    boxes = [(300, 12, 400, 40), (10, 100, 90, 130), (10, 10, 200, 42), (120, 104, 220, 128)]
    assert reading_order(boxes) == [2, 0, 1, 3]


# --- EasyOCR ------------------------------------------------------------------------------------------------


def _fake_config() -> SimpleNamespace:
    """The parts of ``easyocr.config`` (1.7) the backend reads, with EasyOCR's real file names."""
    gen1 = {"thai_g1": "thai.pth", "zh_tra_g1": "chinese.pth", "tamil_g1": "tamil.pth"}
    gen1 |= {"bengali_g1": "bengali.pth", "arabic_g1": "arabic.pth", "devanagari_g1": "devanagari.pth"}
    gen2 = {"english_g2": "english_g2.pth", "latin_g2": "latin_g2.pth", "zh_sim_g2": "zh_sim_g2.pth", "japanese_g2": "japanese_g2.pth"}
    gen2 |= {"korean_g2": "korean_g2.pth", "telugu_g2": "telugu.pth", "kannada_g2": "kannada.pth", "cyrillic_g2": "cyrillic_g2.pth"}
    return SimpleNamespace(
        detection_models={"craft": {"filename": "craft_mlt_25k.pth"}, "dbnet18": {"filename": "pretrained_ic15_res18.pt"}},
        recognition_models={
            "gen1": {key: {"filename": name} for key, name in gen1.items()},
            "gen2": {key: {"filename": name} for key, name in gen2.items()},
        },
        bengali_lang_list=["bn", "as", "mni"],
        arabic_lang_list=["ar", "fa", "ug", "ur"],
        devanagari_lang_list=["hi", "mr", "ne"],
        cyrillic_lang_list=["ru", "rs_cyrillic", "be", "bg", "uk", "mn"],
    )


class _FakeReader:
    """Stands in for ``easyocr.Reader``: records its arguments, detects two boxes, reads them."""

    made: ClassVar[list[dict]] = []

    def __init__(self, lang_list, **kwargs):
        _FakeReader.made.append({"lang_list": lang_list, **kwargs})

    def detect(self, image, **kwargs):
        assert image.shape[2] == 3 and kwargs["reformat"] is False
        return [[[300, 400, 10, 40], [10, 200, 10, 42]]], [[]]

    def recognize(self, gray, horizontal, free, **kwargs):
        assert gray.ndim == 2
        return [
            ([[300, 10], [400, 10], [400, 40], [300, 40]], "DAILY", np.float64(0.9)),
            ([[10, 10], [200, 10], [200, 42], [10, 42]], "OPEN", np.float64(0.8)),
            ([[10, 60], [50, 60], [50, 80], [10, 80]], "x", np.float64(0.01)),
        ]


@pytest.fixture
def fake_easyocr(monkeypatch):
    module = types.ModuleType("easyocr")
    module.config = _fake_config()
    module.Reader = _FakeReader
    torch = types.ModuleType("torch")
    torch.cuda = SimpleNamespace(is_available=lambda: False)
    torch.set_num_threads = lambda n: None
    monkeypatch.setitem(sys.modules, "easyocr", module)
    monkeypatch.setitem(sys.modules, "torch", torch)
    _FakeReader.made = []
    return module


def test_easyocr_missing_package_says_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "easyocr", None)
    with pytest.raises(BackendUnavailable, match="pip install easyocr"):
        EasyOcr(EasyOcrOptions(), BackendContext())
    with pytest.raises(BackendUnavailable, match="pip install easyocr"):
        easyocr_backend.preflight(EasyOcrOptions(), BackendContext())


def test_easyocr_torchvision_mismatch_is_one_line(monkeypatch):
    # What `import easyocr` raises with a CPU torch and PyPI's (CUDA) torchvision.
    import builtins

    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "easyocr":
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "easyocr", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(BackendUnavailable, match="same index"):
        EasyOcr(EasyOcrOptions(), BackendContext())


def test_easyocr_preflight_checks_weights(fake_easyocr, tmp_path):
    with pytest.raises(BackendUnavailable, match=r"latin_g2\.pth"):
        easyocr_backend.preflight(EasyOcrOptions(lang_list=("en", "es"), model_dir=str(tmp_path)), BackendContext())
    for name in ("craft_mlt_25k.pth", "latin_g2.pth"):
        (tmp_path / name).write_bytes(b"weights")
    easyocr_backend.preflight(EasyOcrOptions(lang_list=("en", "es"), model_dir=str(tmp_path)), BackendContext())


def test_easyocr_preflight_reads_the_installed_config(monkeypatch, tmp_path):
    from importlib.util import find_spec

    if "easyocr" not in sys.modules and find_spec("easyocr") is None:
        pytest.skip("easyocr not installed (optional extra)")
    monkeypatch.delitem(sys.modules, "easyocr", raising=False)  # read config.py from its file, torch unloaded
    with pytest.raises(BackendUnavailable, match=r"craft_mlt_25k\.pth, english_g2\.pth"):
        easyocr_backend.preflight(EasyOcrOptions(model_dir=str(tmp_path)), BackendContext())


def test_easyocr_missing_weights_name_folder_files_and_fix(fake_easyocr, tmp_path):
    with pytest.raises(BackendUnavailable) as caught:
        EasyOcr(EasyOcrOptions(model_dir=str(tmp_path)), BackendContext())
    message = str(caught.value)
    assert str(tmp_path) in message and "craft_mlt_25k.pth" in message and "english_g2.pth" in message
    assert "easyocr.Reader(['en'])" in message and "\n" not in message
    assert _FakeReader.made == []  # nothing was built, so nothing could download


def test_easyocr_loads_only_from_its_folder_and_times_det_and_rec(fake_easyocr, tmp_path):
    for name in ("craft_mlt_25k.pth", "english_g2.pth"):
        (tmp_path / name).write_bytes(b"weights")
    backend = EasyOcr(EasyOcrOptions(model_dir=str(tmp_path), min_confidence=0.1), BackendContext(threads=2))
    made = _FakeReader.made[0]
    assert made["download_enabled"] is False and made["model_storage_directory"] == str(tmp_path)
    assert made["lang_list"] == ["en"] and made["gpu"] is False
    assert backend.model_files() == (tmp_path / "craft_mlt_25k.pth", tmp_path / "english_g2.pth")
    tracer = Tracer()
    regions = backend.recognize(_frame(np.zeros((100, 500, 3), np.uint8)), tracer)
    assert [r.text for r in regions] == ["OPEN", "DAILY"]  # reading order; the 0.01 region is dropped
    assert isinstance(regions[0].confidence, float) and regions[0].quad[2] == (200.0, 42.0)
    assert [s.name for s in tracer.spans] == ["ocr.det", "ocr.rec"] and tracer.spans[0].attrs["boxes"] == 2


def test_easyocr_gpu_without_cuda_is_refused(fake_easyocr, tmp_path):
    for name in ("craft_mlt_25k.pth", "english_g2.pth"):
        (tmp_path / name).write_bytes(b"weights")
    with pytest.raises(BackendUnavailable, match="no CUDA"):
        EasyOcr(EasyOcrOptions(model_dir=str(tmp_path), gpu=True), BackendContext())


def test_easyocr_picks_recognizer_files_as_easyocr_does():
    config = _fake_config()
    assert recognizer_file(["en"], config) == "english_g2.pth"
    assert recognizer_file(["en", "es"], config) == "latin_g2.pth"
    assert recognizer_file(["ru", "en"], config) == "cyrillic_g2.pth"
    assert recognizer_file(["ch_sim", "en"], config) == "zh_sim_g2.pth"
    assert recognizer_file(["hi"], config) == "devanagari.pth"


def test_easyocr_fake_config_matches_the_real_one():
    easyocr = pytest.importorskip("easyocr", reason="easyocr not installed (optional extra)")
    real, fake = easyocr.config, _fake_config()
    assert {k: v["filename"] for k, v in fake.detection_models.items()} == {
        k: real.detection_models[k]["filename"] for k in fake.detection_models
    }
    for gen, models in fake.recognition_models.items():
        for key, model in models.items():
            assert real.recognition_models[gen][key]["filename"] == model["filename"]


def test_easyocr_default_model_dir_follows_easyocr(monkeypatch, tmp_path):
    monkeypatch.setenv("EASYOCR_MODULE_PATH", str(tmp_path))
    assert default_model_dir() == tmp_path / "model"
    monkeypatch.delenv("EASYOCR_MODULE_PATH")
    monkeypatch.delenv("MODULE_PATH", raising=False)
    assert default_model_dir() == Path.home() / ".EasyOCR" / "model"


def test_easyocr_reads_a_scene_with_real_weights():
    pytest.importorskip("easyocr", reason="easyocr not installed (optional extra)")
    if not all((default_model_dir() / name).is_file() for name in ("craft_mlt_25k.pth", "english_g2.pth")):
        pytest.skip(f"EasyOCR weights not in {default_model_dir()}")
    backend = EasyOcr(EasyOcrOptions(), BackendContext())
    image, truth = generate_scene(SceneOptions(difficulty="easy", seed=0), 0)
    texts = {normalize(t) for region in backend.recognize(_frame(image), Tracer()) for t in region.text.split()}
    assert {normalize(w.text) for w in truth.words} <= texts
