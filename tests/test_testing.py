"""The fakes harness.testing ships behave as they say: experiment files, faulty backends, real backends opened outside a run."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.run.experiment import load_experiment
from harness.testing.backends import FaultyMt, FaultyMtOptions, FaultyOcr, FaultyOcrOptions, open_backend
from harness.testing.experiments import NULL_MT, experiment_toml, write_experiment
from harness.trace import Tracer
from harness.types import Frame, GroundTruth, GroundTruthWord

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_the_default_experiment_is_the_harness_alone(tmp_path: Path) -> None:
    experiment = load_experiment(write_experiment(tmp_path / "exp.toml"))
    [config] = experiment.configurations()
    assert config.config_id == "synth/null/null" and not experiment.stages.overlay


def test_sections_replace_the_defaults_and_round_trip_through_toml() -> None:
    sections = {
        "run": {"min_frames": 3, "min_duration_s": 0.5, "isolate": False, "note": 'quote " and ü'},
        "mt": [NULL_MT, {"id": "ct2", "backend": "ctranslate2", "compute_type": "int8"}],
        "energy": {"sensors": ["rapl", "nvml"]},
        "ocr": None,
    }
    parsed = tomllib.loads(experiment_toml(**sections))
    assert parsed["run"] == sections["run"] and parsed["mt"] == sections["mt"] and parsed["energy"] == sections["energy"]
    assert "ocr" not in parsed and parsed["sources"] == [{"id": "synth", "kind": "synthetic", "n": 2}]


def test_faulty_backends_fail_flap_and_hang_after_their_good_calls() -> None:
    failing = FaultyMt(FaultyMtOptions(good=2, message="gone"))
    assert failing.translate(["a"]) == ["a"] and failing.translate(["b"]) == ["b"]
    with pytest.raises(RuntimeError, match="gone"):
        failing.translate(["c"])
    flapping = FaultyMt(FaultyMtOptions(good=1, fault="flap"))
    outcomes = []
    for _ in range(5):
        try:
            flapping.translate(["x"])
            outcomes.append("ok")
        except RuntimeError:
            outcomes.append("fail")
    assert outcomes == ["ok", "fail", "ok", "fail", "ok"]
    hanging = FaultyMt(FaultyMtOptions(good=0, fault="hang", hang_s=1.0))
    thread = threading.Thread(target=hanging.translate, args=(["x"],))
    thread.start()
    thread.join(0.05)
    assert thread.is_alive()  # still asleep in the call (a second, far longer than the wait even on a loaded machine)
    thread.join()
    with pytest.raises(ConfigError, match="fault must be one of"):
        FaultyMtOptions(fault="explode")


def test_the_faulty_ocr_reads_the_truth_until_its_fault() -> None:
    truth = GroundTruth((GroundTruthWord(((0, 0), (1, 0), (1, 1), (0, 1)), "EXIT"),), "EXIT")
    frame = Frame(0, 0, None, ground_truth=truth)
    ocr = FaultyOcr(FaultyOcrOptions(good=1))
    assert [r.text for r in ocr.recognize(frame, Tracer())] == ["EXIT"]
    with pytest.raises(RuntimeError, match="out of memory"):
        ocr.recognize(frame, Tracer())


def test_open_backend_resolves_models_as_a_run_does(tmp_path: Path) -> None:
    from harness.ocr.rapidocr import RapidOcrOptions

    backend = open_backend("ocr", "rapidocr", RapidOcrOptions(threads=1))
    try:
        assert [p.name for p in backend.model_files()] == [
            "ch_PP-OCRv4_det_infer.onnx",
            "ch_ppocr_mobile_v2.0_cls_infer.onnx",
            "ch_PP-OCRv4_rec_infer.onnx",
        ]
    finally:
        backend.close()
    with pytest.raises(ConfigError, match="unknown ocr 'nope'; valid: easyocr, litert, null, peer, ppocr-torch, rapidocr, tesseract"):
        open_backend("ocr", "nope", RapidOcrOptions())
