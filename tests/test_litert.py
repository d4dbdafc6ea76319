"""The litert backend (PP-OCRv4 .tflite on LiteRT) reads scenes as the rapidocr backend does, at every
precision; missing runtimes and models are user errors that say what to do; the tflite recipe converts."""

from __future__ import annotations

import builtins
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.metrics.text import word_recall
from harness.models.manifest import load_manifest
from harness.models.recipes.tflite import PRECISIONS, TfliteSettings, default_model_path, output_name
from harness.models.resolve import resolve_refs
from harness.ocr import litert
from harness.ocr.base import OcrBackend
from harness.ocr.litert import LiteRtOptions, det_input, model_refs
from harness.sources.synthetic import SceneOptions, generate_scene
from harness.testing.backends import open_backend
from harness.trace import Tracer
from harness.types import Frame

PARTS = ("det", "cls", "rec")
HAVE_MODELS = all(default_model_path(part, p).is_file() for part in PARTS for p in PRECISIONS)
needs_models = pytest.mark.skipif(not HAVE_MODELS, reason="models/ppocrv4-tflite/ not built (arbench models build)")
CONTEXT = BackendContext(threads=2)


def resolve_model_paths(options: LiteRtOptions, manifest: list | None = None) -> dict[str, Path]:
    return {part: model.path for part, model in resolve_refs(model_refs(options), "ocr litert", manifest).items()}


def _runtime() -> None:
    pytest.importorskip("ai_edge_litert", reason="the litert backend needs ai-edge-litert (pip install 'arbench[tflite]')")


def _scenes() -> list[tuple[np.ndarray, list[str]]]:
    scenes = [generate_scene(SceneOptions(seed=3, n=3, difficulty="easy"), i) for i in range(3)]
    return [(image, [w.text for w in truth.words if not w.dont_care]) for image, truth in scenes]


def _read(backend: OcrBackend, images: list[np.ndarray]) -> tuple[list[list[str]], Tracer]:
    tracer = Tracer()
    try:
        return [[r.text for r in backend.recognize(Frame(i, 0, image), tracer)] for i, image in enumerate(images)], tracer
    finally:
        backend.close()


def _recall(texts: list[list[str]], words: list[list[str]]) -> float:
    return float(np.mean([word_recall(t, w) for t, w in zip(texts, words, strict=True)]))


@needs_models
def test_fp32_reads_scenes_like_rapidocr_with_spans() -> None:
    _runtime()
    from harness.ocr.rapidocr import RapidOcrOptions

    images, words = zip(*_scenes(), strict=True)
    backend = open_backend("ocr", "litert", LiteRtOptions(), CONTEXT)
    assert [p.name for p in backend.model_files()] == [output_name(part, "fp32") for part in PARTS]
    texts, tracer = _read(backend, list(images))
    reference, _ = _read(open_backend("ocr", "rapidocr", RapidOcrOptions(), CONTEXT), list(images))
    assert texts == reference  # same det input on 16:9 frames, same crops, same decoding
    assert _recall(texts, list(words)) == 1.0
    assert [s.name for s in tracer.spans[:3]] == ["ocr.det", "ocr.cls", "ocr.rec"]
    assert all(s.end_ns > s.start_ns for s in tracer.spans)
    assert tracer.spans[0].attrs["boxes"] >= len(texts[0])


@needs_models
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_fp16_and_int8_load_and_read(precision: str) -> None:
    _runtime()
    images, words = zip(*_scenes(), strict=True)
    backend = open_backend("ocr", "litert", LiteRtOptions(precision=precision, threads=1), CONTEXT)
    assert all(precision in p.name for p in backend.model_files())
    texts, _ = _read(backend, list(images))
    assert _recall(texts, list(words)) >= 0.8


@needs_models
def test_word_crop_without_det_or_cls() -> None:
    _runtime()
    image, truth = generate_scene(SceneOptions(seed=3, difficulty="easy"), 0)
    word = max((w for w in truth.words if not w.dont_care), key=lambda w: len(w.text))
    xs, ys = [p[0] for p in word.quad], [p[1] for p in word.quad]
    crop = np.ascontiguousarray(image[int(min(ys)) : int(max(ys)) + 1, int(min(xs)) : int(max(xs)) + 1])
    backend = open_backend("ocr", "litert", LiteRtOptions(use_det=False, use_cls=False), CONTEXT)
    assert [p.name for p in backend.model_files()] == [output_name("rec", "fp32")]
    (texts,), tracer = _read(backend, [crop])
    assert word_recall(texts, [word.text]) == 1.0
    assert [s.name for s in tracer.spans] == ["ocr.rec"]


def test_det_input_keeps_rapidocr_size_on_16_9_and_fits_others() -> None:
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    preprocess = DetPreProcess(736, "min")
    landscape = np.full((540, 960, 3), 255, dtype=np.uint8)
    tensor, size = det_input(landscape, preprocess, 736, 1312)
    assert tensor.shape == (736, 1312, 3) and size == (736, 1312)
    assert np.allclose(tensor, 1.0)
    portrait = np.zeros((960, 540, 3), dtype=np.uint8)
    tensor, size = det_input(portrait, preprocess, 736, 1312)
    assert size == (736, 414)
    assert np.allclose(tensor[:, :414], -1.0) and np.allclose(tensor[:, 414:], 0.0)  # padding is normalized 0


def test_missing_runtime_says_how_to_install(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_litert(name, *args, **kwargs):
        if name.startswith(("ai_edge_litert", "tflite_runtime")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_litert)
    for module in [m for m in sys.modules if m.startswith(("ai_edge_litert", "tflite_runtime"))]:
        monkeypatch.delitem(sys.modules, module)
    with pytest.raises(BackendUnavailable, match=r"pip install 'arbench\[tflite\]'"):
        litert.interpreter_class()
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(BackendUnavailable, match="ai-edge-litert"):
        litert.preflight(LiteRtOptions(), CONTEXT)


def test_missing_and_foreign_model_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match="det model not found"):
        resolve_model_paths(LiteRtOptions(det_model=str(tmp_path / "none.tflite")), [])
    onnx = Path(__file__).parent.parent / "models" / "ppocrv4-int8" / "ch_PP-OCRv4_det_infer_int8.onnx"
    with pytest.raises(DataMissing, match="not a TFLite model"):
        resolve_model_paths(LiteRtOptions(det_model=str(onnx)), [])
    manifest, gone = tmp_path / "manifest.toml", tmp_path / "gone.tflite"
    manifest.write_text(
        '[[model]]\nid = "d"\nfamily = "ppocrv4"\ntask = "ocr.det"\nbackend = "litert"\nprecision = "int8"\n'
        f'files = ["{gone}"]\nrecipe = "tflite"\nsource = "s"\nlicence = "MIT"\n'
    )
    with pytest.raises(DataMissing, match=r"is missing; run `arbench models build`"):
        resolve_model_paths(LiteRtOptions(precision="int8"), load_manifest(manifest))
    with pytest.raises(ConfigError, match="precision"):
        LiteRtOptions(precision="int4")


def test_corrupt_model_file_is_a_user_error(tmp_path: Path) -> None:
    _runtime()
    bad = tmp_path / "det.tflite"
    bad.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(DataMissing, match="corrupt or not a TFLite model"):
        litert._Model(litert.interpreter_class(), bad, 1)


@needs_models
def test_manifest_entries_pick_litert_files_by_precision(tmp_path: Path) -> None:
    paths = resolve_model_paths(LiteRtOptions(precision="int8"))
    assert paths == {part: default_model_path(part, "int8") for part in PARTS}  # not rapidocr's ONNX entries
    text = (Path(__file__).parent.parent / "models" / "manifest.toml").read_text()
    without_fp16 = "\n[[model]]".join(b for b in text.split("\n[[model]]") if 'precision = "fp16"' not in b)
    manifest_file = tmp_path / "manifest.toml"
    manifest_file.write_text(without_fp16)
    with pytest.raises(ConfigError, match=r"backend litert at precision 'fp16'.*available: fp32, int8"):
        resolve_model_paths(LiteRtOptions(precision="fp16"), load_manifest(manifest_file))
    digest = __import__("hashlib").sha256(default_model_path("rec", "int8").read_bytes()).hexdigest()
    manifest_file.write_text(text.replace(digest, "0" * 64))
    with pytest.raises(DataMissing, match="sha256"):
        resolve_model_paths(LiteRtOptions(precision="int8"), load_manifest(manifest_file))


def test_recipe_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="rec_int8"):
        TfliteSettings(rec_int8="int4")
    with pytest.raises(ConfigError, match="quant_type"):
        TfliteSettings(quant_type="per-block")
    with pytest.raises(ConfigError, match="multiples of 8"):
        TfliteSettings(rec_shape=(48, 300))
    assert output_name("cls", "fp16") == "ch_ppocr_mobile_v2.0_cls_fp16.tflite"


@pytest.mark.slow
def test_recipe_converts_cls_at_every_precision(tmp_path: Path) -> None:
    pytest.importorskip("onnx2tf", reason="the tflite recipe needs onnx2tf (pip install 'arbench[convert]')")
    _runtime()
    import onnxruntime as ort
    from rapidocr_onnxruntime import RapidOCR

    from harness.models.manifest import model_root
    from harness.models.recipes.ort_int8 import MODEL_FILES
    from harness.models.recipes.tflite import ONNX2TF_SAMPLE_FILE, build_ppocr_tflite

    source = model_root("rapidocr") / MODEL_FILES["cls"]
    before = source.read_bytes()
    settings = replace(TfliteSettings(), calibration_frames=1, max_crops=8)
    built = build_ppocr_tflite(model_root("rapidocr"), tmp_path, settings, parts=("cls",))
    assert source.read_bytes() == before  # onnx2tf rewrites its input in place: the recipe hands it a copy
    assert sorted(built) == ["cls-fp16", "cls-fp32", "cls-int8"]
    assert not list(tmp_path.glob(ONNX2TF_SAMPLE_FILE)) and not Path(ONNX2TF_SAMPLE_FILE).exists()
    record = json.loads((tmp_path / "ppocr_tflite.json").read_text())
    assert record["outputs"]["cls-int8"]["file"] == "ch_ppocr_mobile_v2.0_cls_int8.tflite"
    assert record["versions"]["onnx2tf"] != "absent" and record["settings"]["cls_shape"] == [48, 192]
    engine = RapidOCR()
    image, truth = generate_scene(SceneOptions(seed=11, n=1, difficulty="easy"), 0)
    crops = engine.get_crop_img_list(image, [np.array(w.quad, dtype=np.float32) for w in truth.words])
    x = np.stack([engine.text_cls.resize_norm_img(crop) for crop in crops]).astype(np.float32)
    expected = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    for precision, atol in (("fp32", 1e-4), ("fp16", 1e-2), ("int8", 0.1)):
        model = litert._Model(litert.interpreter_class(), built[f"cls-{precision}"], 1)
        np.testing.assert_allclose(model(x)[0], expected, atol=atol)


def test_fp16_is_the_fp32_model_with_its_constants_cast_to_float16(tmp_path: Path) -> None:
    _runtime()
    from ai_edge_litert import schema_py_generated as schema

    from harness.models.recipes.tflite_fp16 import DEQUANTIZE, FLOAT16, FLOAT32, cast_to_fp16

    source = default_model_path("cls", "fp32")
    if not source.is_file():
        pytest.skip("models/ppocrv4-tflite/ not present")
    first, second = cast_to_fp16(source, tmp_path / "a.tflite"), cast_to_fp16(source, tmp_path / "b.tflite")
    assert first.read_bytes() == second.read_bytes()  # deterministic: the manifest can pin it
    fp32 = schema.ModelT.InitFromPackedBuf(source.read_bytes(), 0)
    fp16 = schema.ModelT.InitFromPackedBuf(first.read_bytes(), 0)
    graph32, graph16 = fp32.subgraphs[0], fp16.subgraphs[0]
    constants = [t for t in graph32.tensors if t.type == FLOAT32 and fp32.buffers[t.buffer].data is not None]
    restores = [op for op in graph16.operators if fp16.operatorCodes[op.opcodeIndex].builtinCode == DEQUANTIZE]
    assert len(restores) == len(constants) > 0
    assert graph16.operators[: len(restores)] == restores  # restored before any other operator runs
    for restore in restores[:5]:
        half, full = graph16.tensors[restore.inputs[0]], graph16.tensors[restore.outputs[0]]
        assert half.type == FLOAT16 and fp16.buffers[full.buffer].data is None
        original = next(t for t in constants if t.name == full.name)
        values = np.asarray(fp32.buffers[original.buffer].data, dtype=np.uint8).view("<f4")
        np.testing.assert_array_equal(np.asarray(fp16.buffers[half.buffer].data, dtype=np.uint8).view("<f2"), values.astype("<f2"))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 48, 192, 3)).astype(np.float32)
    outputs = [litert._Model(litert.interpreter_class(), path, 1).run(x[0]) for path in (source, first)]
    np.testing.assert_allclose(outputs[1], outputs[0], atol=5e-3)


@needs_models
def test_the_built_fp16_files_match_their_pins() -> None:
    paths = resolve_model_paths(LiteRtOptions(precision="fp16"))  # verified against the manifest's sha256
    assert paths == {part: default_model_path(part, "fp16") for part in PARTS}


@pytest.mark.parametrize("part", PARTS)
def test_the_cast_computes_what_the_onnx2tf_fp16_files_computed(part: str, tmp_path: Path) -> None:
    """The fp16 files onnx2tf made were shipped until the cast replaced them; git history still holds them."""
    import subprocess

    _runtime()
    from harness.models.recipes.tflite_fp16 import cast_to_fp16

    repo = Path(__file__).resolve().parent.parent
    path = f"models/ppocrv4-tflite/{output_name(part, 'fp16')}"
    found = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%H", "--diff-filter=D", "--", path], capture_output=True, text=True, check=False
    )
    shown = subprocess.run(["git", "-C", str(repo), "show", f"{found.stdout.strip()}^:{path}"], capture_output=True, check=False)
    if found.returncode or not found.stdout.strip() or shown.returncode or not default_model_path(part, "fp32").is_file():
        pytest.skip("no git history of the onnx2tf fp16 files here (a shallow clone or an export)")
    onnx2tf = tmp_path / "onnx2tf.tflite"
    onnx2tf.write_bytes(shown.stdout)
    cast = cast_to_fp16(default_model_path(part, "fp32"), tmp_path / "cast.tflite")
    models = [litert._Model(litert.interpreter_class(), p, 1) for p in (onnx2tf, cast)]
    x = np.random.default_rng(1).uniform(-1, 1, (models[0].height, models[0].width, 3)).astype(np.float32)
    np.testing.assert_array_equal(models[0].run(x), models[1].run(x))
