"""The int8 PP-OCR recipe: the graph rewrites are exact, and a small build loads, reads an easy scene
like fp32 does and records what it was built from; the default build gives the shipped bytes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the int8 recipe needs onnx (pip install onnx)")

import onnx
import onnxruntime as ort

from harness.errors import ConfigError
from harness.metrics.text import cer
from harness.ocr.rapidocr import packaged_model_dir
from harness.recipes.ort_int8 import MODEL_FILES, Int8Settings, PartSettings, build_ppocr_int8
from harness.recipes.ppocr_graph import equalize, hardswish_as_mul, linear_conv_pairs, simplify
from harness.sources.synthetic import SceneOptions, generate_scene

# Small, so two builds stay well under a minute on two cores; seed apart from the test scenes below.
SMALL = Int8Settings(calibration_frames=3, seed=5)
SCENES = SceneOptions(seed=901, n=3, difficulty="easy")


def _run(model: onnx.ModelProto | Path, feed: np.ndarray) -> np.ndarray:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: feed})[0]


def _prepared_model(part: str, tmp_path: Path) -> onnx.ModelProto:
    """The packaged model as the recipe has it before its own rewrites: opset 14, pre-processed."""
    from harness.recipes.ort_int8 import _prepare

    plain = Int8Settings(simplify=False, equalize=False)
    return onnx.load(str(_prepare(packaged_model_dir() / MODEL_FILES[part], tmp_path / f"{part}.onnx", plain, [])))


@pytest.mark.parametrize(("part", "shape"), [("det", (1, 3, 96, 160)), ("rec", (2, 3, 48, 160))])
def test_graph_rewrites_keep_the_outputs(part: str, shape: tuple[int, ...], tmp_path: Path) -> None:
    model = _prepared_model(part, tmp_path)
    feed = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    simplified = simplify(model)
    ops = [node.op_type for node in simplified.graph.node]
    assert ("HardSwish" in ops and "Div" not in ops) or part == "rec"  # rec keeps the Divs of its LayerNorms
    assert len(simplified.graph.node) < len(model.graph.node) * 0.7
    np.testing.assert_allclose(_run(simplified, feed), _run(model, feed), atol=2e-4)
    pairs = linear_conv_pairs(simplified)
    assert pairs
    nodes = {node.name: node for node in simplified.graph.node}
    ranges = {a: np.random.default_rng(1).uniform(0.01, 10, _out_channels(simplified, nodes[a])) for a, _ in pairs}
    np.testing.assert_allclose(_run(equalize(simplified, ranges), feed), _run(model, feed), atol=2e-4)
    np.testing.assert_allclose(_run(hardswish_as_mul(simplified), feed), _run(model, feed), atol=2e-4)


def _out_channels(model: onnx.ModelProto, conv: onnx.NodeProto) -> int:
    return next(init.dims[0] for init in model.graph.initializer if init.name == conv.input[1])


def test_settings_reject_unknown_values_and_read_nested_tables() -> None:
    with pytest.raises(ConfigError, match="calibrate_method"):
        PartSettings(calibrate_method="Magic")
    with pytest.raises(ConfigError, match="mode"):
        PartSettings(mode="int4")
    with pytest.raises(ConfigError, match="activation_type"):
        Int8Settings(activation_type="int4")
    with pytest.raises(ConfigError, match="unexpected keyword"):
        Int8Settings.from_dict({"rec": {"bits": 4}})
    settings = Int8Settings.from_dict({"calibration_frames": 4, "rec": {"mode": "dynamic", "op_types": ["MatMul"]}})
    assert settings.rec == replace(Int8Settings().rec, mode="dynamic", op_types=("MatMul",))
    assert settings.det == Int8Settings().det
    assert settings.calibration_frames == 4


def test_missing_source_models_are_a_user_error(tmp_path: Path) -> None:
    from harness.errors import DataMissing

    with pytest.raises(DataMissing, match="rapidocr-onnxruntime"):
        build_ppocr_int8(tmp_path / "nowhere", tmp_path / "out", SMALL)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_ppocr_int8(packaged_model_dir(), tmp_path_factory.mktemp("int8"), SMALL)


@pytest.mark.slow
def test_build_writes_quantized_models_and_a_record(built: dict[str, Path]) -> None:
    assert set(built) == {"det", "cls", "rec"}
    for part in ("det", "rec"):
        assert built[part].name.endswith("_int8.onnx")
        assert built[part].stat().st_size < (packaged_model_dir() / MODEL_FILES[part]).stat().st_size / 2
        ops = {node.op_type for node in onnx.load(str(built[part])).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
        ort.InferenceSession(str(built[part]), providers=["CPUExecutionProvider"])
    record = json.loads((built["det"].parent / "ppocr_int8.json").read_text(encoding="utf-8"))
    assert record["settings"]["calibration_frames"] == 3
    for part, name in MODEL_FILES.items():
        assert record["sources"][part]["sha256"] == hashlib.sha256((packaged_model_dir() / name).read_bytes()).hexdigest()
        assert record["outputs"][part]["sha256"] == hashlib.sha256(built[part].read_bytes()).hexdigest()


@pytest.mark.slow
def test_int8_reads_easy_scenes_like_fp32(built: dict[str, Path]) -> None:
    from rapidocr_onnxruntime import RapidOCR

    fp32 = RapidOCR(intra_op_num_threads=2)
    int8 = RapidOCR(
        det_model_path=str(built["det"]), cls_model_path=str(built["cls"]), rec_model_path=str(built["rec"]), intra_op_num_threads=2
    )
    for index in range(SCENES.n):
        image, truth = generate_scene(SCENES, index)
        fp32_text = " ".join(r[1] for r in fp32(image)[0] or [])
        int8_text = " ".join(r[1] for r in int8(image)[0] or [])
        assert cer(fp32_text, truth.source_text) < 0.05  # the scene is easy for fp32...
        assert cer(int8_text, fp32_text) <= 0.1, (int8_text, fp32_text)  # ...and int8 reads nearly the same


@pytest.mark.slow
def test_the_default_build_reproduces_the_shipped_int8_models_byte_for_byte(tmp_path: Path) -> None:
    from harness.models import load_manifest
    from harness.recipes.ort_int8 import build_default

    built = build_default(tmp_path)
    pinned = {Path(e.files[0]).name: e.sha256[0] for e in load_manifest() if e.recipe == "ort-int8"}
    assert {path.name for path in built.values()} == set(pinned)
    for path in built.values():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pinned[path.name], path.name
