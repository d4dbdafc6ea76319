"""The real backends: Apertium's long-lived pipeline equals the `apertium` command; the rapidocr backend
times det / cls / rec itself and reads what RapidOCR's own call reads."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from harness.context import BackendContext
from harness.errors import BackendUnavailable, DataMissing
from harness.mt.apertium import Apertium, ApertiumOptions
from harness.ocr.rapidocr import RapidOcr, RapidOcrOptions
from harness.sources.synthetic import SceneOptions, generate_scene
from harness.testing.backends import open_backend
from harness.trace import Tracer
from harness.types import Frame
from tests.conftest import needs_apertium

SIGNS = ["EMERGENCY EXIT", "Do not touch the paintings.", "Wet floor!", "Stop. Go.", "[weird] <b> ^$/@ {x}", "Toilets →", ""]


def apertium_cli(text: str, *flags: str, pair: str = "eng-spa") -> str:
    return " ".join(subprocess.run(["apertium", *flags, pair], input=text, capture_output=True, text=True, check=True).stdout.split())


@needs_apertium
def test_apertium_matches_the_command_line() -> None:
    backend = Apertium(ApertiumOptions())
    try:
        assert backend.translate(SIGNS) == [apertium_cli(s, "-u") for s in SIGNS]
    finally:
        backend.close()


@needs_apertium
def test_apertium_unknown_word_marks_and_reverse_direction() -> None:
    marked = Apertium(ApertiumOptions(mark_unknown=True))
    reverse = Apertium(ApertiumOptions(pair="spa-eng"))
    try:
        assert marked.translate(["Hello Zorblax"]) == [apertium_cli("Hello Zorblax")]
        assert "*" in marked.translate(["Hello Zorblax"])[0]
        assert reverse.translate(["Salida de emergencia"]) == [apertium_cli("Salida de emergencia", "-u", pair="spa-eng")]
    finally:
        marked.close()
        reverse.close()


@needs_apertium
def test_apertium_unknown_pair_lists_installed_modes() -> None:
    with pytest.raises(BackendUnavailable, match=r"no mode 'eng-klingon'.*installed: .*eng-spa"):
        Apertium(ApertiumOptions(pair="eng-klingon"))


@needs_apertium
def test_apertium_is_one_process_for_many_strings() -> None:
    backend = Apertium(ApertiumOptions())
    try:
        pid = backend._process.pid
        backend.translate(["one"] * 20)
        assert backend._process.pid == pid and backend._process.poll() is None
    finally:
        backend.close()
    assert backend._process.poll() is not None
    deadline = time.monotonic() + 5  # SIGKILL is delivered asynchronously
    while _live_members(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _live_members(pid) == []  # every stage of the pipeline is gone, not just bash


def _live_members(pgid: int) -> list[str]:
    """Processes of a process group that are still running (zombies waiting for init do not count)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(stat.parent.name)
    return live


def test_rapidocr_spans_and_output_match_rapidocr_itself() -> None:
    from rapidocr_onnxruntime import RapidOCR

    image, _ = generate_scene(SceneOptions(seed=3), 0)
    backend = open_backend("ocr", "rapidocr", RapidOcrOptions(), BackendContext(threads=2))
    tracer = Tracer()
    regions = backend.recognize(Frame(0, 0, image), tracer)
    expected, _ = RapidOCR()(image)
    assert [r.text for r in regions] == [item[1] for item in expected]
    assert [s.name for s in tracer.spans] == ["ocr.det", "ocr.cls", "ocr.rec"]
    assert all(s.end_ns > s.start_ns for s in tracer.spans)
    assert tracer.spans[0].attrs["boxes"] == len(regions)
    assert [p.name for p in backend.model_files()] == [
        "ch_PP-OCRv4_det_infer.onnx",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "ch_PP-OCRv4_rec_infer.onnx",
    ]


def test_rapidocr_missing_model_file_is_a_user_error(tmp_path) -> None:
    with pytest.raises(DataMissing, match="det model not found"):
        open_backend("ocr", "rapidocr", RapidOcrOptions(det_model=str(tmp_path / "none.onnx")))
    with pytest.raises(BackendUnavailable, match="det model was not resolved"):  # a backend never looks models up itself
        RapidOcr(RapidOcrOptions(), BackendContext())
