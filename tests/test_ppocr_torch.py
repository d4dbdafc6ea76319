"""The ppocr-torch backend: the package's PP-OCRv4 ONNX graphs run op by op by PyTorch compute what ONNX
Runtime computes, read scenes as the rapidocr backend does, time host↔device copies as sub-spans, and
refuse what they cannot run in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.models.manifest import find_model
from harness.models.recipes.ppocr_torch import convert
from harness.ocr.ppocr_torch import PpOcrTorch, PpOcrTorchOptions, choose_device, model_refs
from harness.ocr.rapidocr import RapidOcrOptions
from harness.ocr.torch_graph import OnnxGraph, load_graph
from harness.report.fig_latency import stage_parts
from harness.sources.synthetic import SceneOptions, generate_scene
from harness.testing.backends import open_backend
from harness.trace import Tracer
from harness.types import Frame

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
ort = pytest.importorskip("onnxruntime")

PARTS = ("det", "cls", "rec")
CONTEXT = BackendContext(threads=2)
SHAPES = {"det": (1, 3, 160, 256), "cls": (3, 3, 48, 192), "rec": (3, 3, 48, 200)}


def _graph_files(part: str) -> Path:
    entry = find_model("ppocrv4", f"ocr.{part}", "fp32", backend="ppocr-torch")
    if not entry.present():
        pytest.skip("build/models/ppocrv4-torch/ not built (arbench models build)")
    return entry.paths()[0]


@pytest.mark.parametrize("part", PARTS)
def test_each_graph_computes_what_onnx_runtime_computes(part: str) -> None:
    source = find_model("ppocrv4", f"ocr.{part}", "fp32", backend="rapidocr").paths()[0]
    session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(-1, 1, SHAPES[part]).astype(np.float32)
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.inference_mode():
        got = load_graph(_graph_files(part))(torch.from_numpy(x))[0].numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, float(np.abs(expected).max()))


def test_the_recipe_writes_the_pinned_bytes(tmp_path: Path) -> None:
    built = _graph_files("cls")
    source = find_model("ppocrv4", "ocr.cls", "fp32", backend="rapidocr").paths()[0]
    out = convert(source, tmp_path / built.name)
    assert out.read_bytes() == built.read_bytes()
    assert out.with_suffix(".safetensors").read_bytes() == built.with_suffix(".safetensors").read_bytes()


def _scenes() -> list[np.ndarray]:
    return [generate_scene(SceneOptions(seed=3, n=2, difficulty="easy"), i)[0] for i in range(2)]


def _read(backend, images: list[np.ndarray]) -> tuple[list[list[tuple[str, tuple]]], Tracer]:
    tracer = Tracer()
    try:
        out = [[(r.text, r.quad) for r in backend.recognize(Frame(i, 0, image), tracer)] for i, image in enumerate(images)]
    finally:
        backend.close()
    return out, tracer


def test_reads_scenes_as_the_rapidocr_backend_with_spans_and_model_time() -> None:
    for part in PARTS:
        _graph_files(part)
    images = _scenes()
    backend = open_backend("ocr", "ppocr-torch", PpOcrTorchOptions(device="cpu"), CONTEXT)
    assert backend.accelerators() == {"det": "cpu", "cls": "cpu", "rec": "cpu"}
    assert sorted(p.suffix for p in backend.model_files()) == [".json"] * 3 + [".safetensors"] * 3
    got, tracer = _read(backend, images)
    expected, _ = _read(open_backend("ocr", "rapidocr", RapidOcrOptions(), CONTEXT), images)
    assert [[t for t, _ in frame] for frame in got] == [[t for t, _ in frame] for frame in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert np.allclose(np.array([q for _, q in mine]), np.array([q for _, q in theirs]), atol=1.0)
    names = [s.name for s in tracer.spans]
    assert {"ocr.det", "ocr.cls", "ocr.rec"} <= set(names)
    assert not any(n.count(".") > 1 for n in names)  # no device, no copies
    assert all(s.attrs["model_ns"] > 0 for s in tracer.spans)


def test_bf16_on_the_cpu_still_reads_easy_signs() -> None:
    for part in PARTS:
        _graph_files(part)
    images = _scenes()
    fp32, _ = _read(open_backend("ocr", "ppocr-torch", PpOcrTorchOptions(device="cpu"), CONTEXT), images)
    bf16, _ = _read(open_backend("ocr", "ppocr-torch", PpOcrTorchOptions(device="cpu", precision="bf16"), CONTEXT), images)
    words = [w for frame in fp32 for w, _ in frame]
    same = sum(a == b for a, b in zip(words, [w for frame in bf16 for w, _ in frame], strict=False))
    assert words and same >= len(words) - 1  # bf16 keeps 8 bits of mantissa: one word of the scenes may differ


class _Copying:
    """A session that has copied to a device and back: what TorchSession records on a GPU."""

    def __init__(self) -> None:
        self.copies = [("h2d", 100, 150), ("d2h", 900, 950)]

    def take_model_ns(self) -> int:
        return 750

    def take_copies(self) -> list[tuple[str, int, int]]:
        taken, self.copies = self.copies, []
        return taken


def test_copies_become_sub_spans_that_figures_leave_inside_their_part() -> None:
    backend = object.__new__(PpOcrTorch)
    backend._sessions = {"det": _Copying()}
    tracer = Tracer()
    with tracer.span("ocr.det") as attrs:
        backend._note_model_time(tracer, attrs, "det")
    assert [(s.name, s.start_ns, s.end_ns) for s in tracer.spans[:2]] == [("ocr.det.h2d", 100, 150), ("ocr.det.d2h", 900, 950)]
    assert tracer.spans[2].attrs["model_ns"] == 750

    class Series:
        def __init__(self, names: list[str]) -> None:
            self.records = [{"spans": [{"name": name} for name in names]}]

    assert stage_parts([Series([s.name for s in tracer.spans])]) == ["ocr.det"]


def test_device_and_precision_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailable, match="sees no CUDA GPU"):
        choose_device(PpOcrTorchOptions(device="cuda"), torch, ())
    with pytest.raises(BackendUnavailable, match="fp16 does not run on cpu"):  # auto found no GPU: optional rows skip
        choose_device(PpOcrTorchOptions(precision="fp16"), torch, ())
    with pytest.raises(ConfigError, match="fp16 does not run on cpu"):  # asked for: a mistake in the experiment
        choose_device(PpOcrTorchOptions(precision="fp16", device="cpu"), torch, ())
    assert choose_device(PpOcrTorchOptions(), torch, ("CUDAExecutionProvider",)) == "cpu"  # auto: no GPU here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device(PpOcrTorchOptions(), torch, ("CUDAExecutionProvider", "CPUExecutionProvider")) == "cuda"
    assert choose_device(PpOcrTorchOptions(), torch, ("CPUExecutionProvider",)) == "cpu"
    for bad in ({"precision": "int8"}, {"device": "tpu"}, {"tuning": "fast"}):
        with pytest.raises(ConfigError):
            PpOcrTorchOptions(**bad)


def test_model_refs_are_the_fp32_graphs_whatever_the_precision() -> None:
    refs = model_refs(PpOcrTorchOptions(precision="bf16"))
    assert {part: (r.precision, r.backend) for part, r in refs.items()} == {p: ("fp32", "ppocr-torch") for p in PARTS}


def test_unknown_operators_and_other_formats_are_refused(tmp_path: Path) -> None:
    graph = {"format": 1, "inputs": ["x"], "outputs": ["y"], "nodes": [{"op": "Einsum", "inputs": ["x"], "outputs": ["y"], "attrs": {}}]}
    with pytest.raises(ValueError, match="lacks: Einsum"):
        OnnxGraph(graph, {})
    with pytest.raises(ValueError, match="format 2"):
        OnnxGraph({**graph, "format": 2}, {})
    broken = tmp_path / "det.json"
    (tmp_path / "det.safetensors").write_bytes(b"not safetensors")
    for text in (json.dumps({**graph, "format": 2}), json.dumps({**graph, "nodes": []}), "{"):
        broken.write_text(text)
        with pytest.raises(DataMissing) as caught:
            PpOcrTorch(PpOcrTorchOptions(device="cpu"), BackendContext(models=dict.fromkeys(PARTS, broken)))
        assert "\n" not in str(caught.value) and "arbench models build" in str(caught.value)
