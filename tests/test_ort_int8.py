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
from harness.models.manifest import model_root
from harness.models.recipes.ort_int8 import MODEL_FILES, Int8Settings, PartSettings, build_ppocr_int8
from harness.models.recipes.ppocr_graph import equalize, hardswish_as_mul, linear_conv_pairs, simplify
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
    from harness.models.recipes.ort_int8 import _prepare

    plain = Int8Settings(simplify=False, equalize=False)
    return onnx.load(str(_prepare(model_root("rapidocr") / MODEL_FILES[part], tmp_path / f"{part}.onnx", plain, [])))


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
    return build_ppocr_int8(model_root("rapidocr"), tmp_path_factory.mktemp("int8"), SMALL)


@pytest.mark.slow
def test_build_writes_quantized_models_and_a_record(built: dict[str, Path]) -> None:
    assert set(built) == {"det", "cls", "rec"}
    for part in ("det", "rec"):
        assert built[part].name.endswith("_int8.onnx")
        assert built[part].stat().st_size < (model_root("rapidocr") / MODEL_FILES[part]).stat().st_size / 2
        ops = {node.op_type for node in onnx.load(str(built[part])).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
        ort.InferenceSession(str(built[part]), providers=["CPUExecutionProvider"])
    record = json.loads((built["det"].parent / "ppocr_int8.json").read_text(encoding="utf-8"))
    assert record["settings"]["calibration_frames"] == 3
    for part, name in MODEL_FILES.items():
        assert record["sources"][part]["sha256"] == hashlib.sha256((model_root("rapidocr") / name).read_bytes()).hexdigest()
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


def test_build_environment_names_the_instruction_set_and_libraries() -> None:
    from harness.models.recipes.ort_int8 import BUILD_PACKAGES, build_environment_here
    from harness.models.recipes.record import reproduces_here

    here = build_environment_here()
    assert here["isa"] and set(here["versions"]) == set(BUILD_PACKAGES) and here["files"]
    assert reproduces_here(here, here) is None
    assert reproduces_here({**here, "cpu_model": "another"}, here) is None  # the model name alone does not decide
    assert "isa" in (reproduces_here({**here, "isa": "x86-64 AVX2"}, here) or "")
    assert "versions" in (reproduces_here({**here, "versions": {**here["versions"], "numpy": "0"}}, here) or "")
    assert "does not say" in (reproduces_here(None, here) or "")


def test_the_record_keeps_one_hash_set_per_machine(built: dict[str, Path], tmp_path: Path) -> None:
    from harness.models.recipes.ort_int8 import build_environment_here
    from harness.models.recipes.record import add_reproduction, known_hashes

    here = build_environment_here()
    path = tmp_path / "record.json"
    path.write_text((built["det"].parent / "ppocr_int8.json").read_text(encoding="utf-8"), encoding="utf-8")
    record = json.loads(path.read_text(encoding="utf-8"))
    assert known_hashes(record, here) == {part: record["outputs"][part]["sha256"] for part in ("cls", "det", "rec")}
    avx2 = {**here, "isa": "x86-64 AVX2", "simd_features": ["sse4_2", "avx", "f16c", "fma", "avx2"]}
    assert known_hashes(record, avx2) is None  # no machine of that instruction set recorded: compare within margins there
    other = tmp_path / "det.onnx"
    other.write_bytes(b"another build")
    assert add_reproduction(path, avx2, {"det": other})
    assert not add_reproduction(path, avx2, {"det": other})  # once per machine
    record = json.loads(path.read_text(encoding="utf-8"))
    assert known_hashes(record, avx2) == {"det": hashlib.sha256(b"another build").hexdigest()}
    assert known_hashes(record, here)["det"] == record["outputs"]["det"]["sha256"]  # the building machine's stays


@pytest.mark.slow
def test_one_machine_builds_the_same_bytes_twice(built: dict[str, Path], tmp_path: Path) -> None:
    """What the byte-for-byte check rests on: same settings, sources and machine, same bytes."""
    again = build_ppocr_int8(model_root("rapidocr"), tmp_path, SMALL)
    for part in ("det", "rec"):
        assert again[part].read_bytes() == built[part].read_bytes(), part


SHIPPED = Path(__file__).resolve().parent.parent / "models" / "ppocrv4-int8"


@pytest.fixture(scope="module")
def default_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from harness.models.recipes.ort_int8 import build_default

    return build_default(tmp_path_factory.mktemp("int8-default"))


@pytest.mark.slow
def test_the_default_build_reproduces_the_shipped_bytes_where_it_was_built(default_build: dict[str, Path]) -> None:
    from harness.models.manifest import load_manifest
    from harness.models.recipes.ort_int8 import build_environment_here
    from harness.models.recipes.record import known_hashes, reproduces_here

    record = json.loads((SHIPPED / "ppocr_int8.json").read_text(encoding="utf-8"))
    here = build_environment_here()
    expected = known_hashes(record, here)
    if expected is None:
        why = reproduces_here(record.get("built_on"), here)
        pytest.skip(f"byte-for-byte only on a machine the record lists (elsewhere: the agreement test): {why}")
    pinned = {Path(e.files[0]).name: e.sha256[0] for e in load_manifest() if e.recipe == "ort-int8"}
    assert {path.name for path in default_build.values()} == set(pinned)
    for part, path in default_build.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == expected[part], path.name
        if reproduces_here(record.get("built_on"), here) is None:  # the machine that built the shipped bytes
            assert expected[part] == pinned[path.name], path.name


# Elsewhere a rebuild must agree with the shipped int8 models about as well as int8 agrees with fp32. On a
# 2-core AVX512-VNNI EPYC (onnx 1.23.2, onnxruntime 1.32.0, NumPy 2.4.6, OpenCV 5.1), which does not rebuild
# the shipped bytes, on the first 4 tuning photos: det score maps 0.24x the int8-vs-fp32 difference (mean |d|
# and DB decisions alike), rec probabilities 0.75x, rec's most likely character differing at 0.82x as many steps.
TOLERANCE = 1.5  # times the int8-vs-fp32 difference, for each measure below
TUNE = "icdar2015_incidental_tune150"


def _scenes() -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """A few tuning photos (never test photos), or hard synthetic scenes apart from calibration where the data is absent."""
    import cv2

    from harness.paths import data_root

    photos = sorted((data_root() / TUNE / "images").glob("*.jpg"))[:4]
    if photos:
        return [(cv2.imread(str(p)), []) for p in photos]
    options = SceneOptions(seed=901, n=4, difficulty="hard")
    return [(generate_scene(options, i)[0], []) for i in range(options.n)]


def _differences(a: list[np.ndarray], b: list[np.ndarray], part: str) -> tuple[float, float]:
    """Mean |difference| of the outputs, and the share of decisions that differ: det pixels on either side
    of DB's 0.3 threshold, rec time steps whose most likely character differs."""
    mean_abs = float(np.mean([np.abs(x - y).mean() for x, y in zip(a, b, strict=True)]))
    if part == "det":
        flips = np.concatenate([((x > 0.3) != (y > 0.3)).ravel() for x, y in zip(a, b, strict=True)])
    else:
        flips = np.concatenate([(x.argmax(-1) != y.argmax(-1)).ravel() for x, y in zip(a, b, strict=True)])
    return mean_abs, float(flips.mean())


@pytest.mark.slow
def test_the_default_build_agrees_with_the_shipped_models_within_tolerance(default_build: dict[str, Path]) -> None:
    from harness.models.recipes.ort_int8 import model_feeds

    fp32 = {part: model_root("rapidocr") / name for part, name in MODEL_FILES.items()}
    feeds = model_feeds(fp32, _scenes())
    for part in ("det", "rec"):
        outputs = {
            name: [_run(path, feed["x"]) for feed in feeds[part]]
            for name, path in (("fp32", fp32[part]), ("shipped", SHIPPED / default_build[part].name), ("built", default_build[part]))
        }
        rebuilt = _differences(outputs["built"], outputs["shipped"], part)
        quantized = _differences(outputs["shipped"], outputs["fp32"], part)
        assert quantized[0] > 0, part  # the shipped model is int8, not the fp32 one
        for measure, mine, reference in zip(("mean |difference|", "decisions that differ"), rebuilt, quantized, strict=True):
            assert mine <= TOLERANCE * reference, f"{part}: {measure} {mine:.3g} vs int8-vs-fp32 {reference:.3g}"


@pytest.mark.slow
def test_the_default_build_scores_like_the_shipped_models_on_the_tuning_photos(default_build: dict[str, Path]) -> None:
    """Wherever it is built: within 0.01 det hmean and 0.5 points of word error of the shipped set, on tune150."""
    from harness.models.recipes.agreement import agree, tuning_scores
    from harness.paths import data_root

    if not (data_root() / TUNE / "images").is_dir():
        pytest.skip(f"needs the tuning photos under {data_root() / TUNE}")
    built, shipped = tuning_scores(default_build["det"].parent), tuning_scores(SHIPPED)
    assert built.photos == shipped.photos == 150
    assert 0.3 < shipped.det_hmean < 0.7 and 0 < shipped.wer < 1  # the shipped set reads the photos at all
    assert agree(built, shipped) == []


def test_agreement_margins_are_0_01_det_hmean_and_half_a_point_of_word_error() -> None:
    from harness.models.recipes.agreement import TuningScores, agree

    shipped = TuningScores(150, det_hmean=0.450, e2e_hmean=0.25, wer=0.700)
    assert agree(TuningScores(150, 0.459, 0.20, 0.704), shipped) == []  # e2e hmean is reported, not a margin
    (hmean,) = agree(TuningScores(150, 0.4389, 0.25, 0.700), shipped)
    assert "det hmean" in hmean
    (wer,) = agree(TuningScores(150, 0.450, 0.25, 0.7051), shipped)
    assert "WER 70.51% vs shipped 70.00%" in wer
