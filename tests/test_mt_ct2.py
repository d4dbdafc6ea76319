"""The CTranslate2 backend on a tiny Marian model built and converted in the test session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from harness.testing.backends import open_backend

pytest.importorskip("ctranslate2")
pytest.importorskip("sentencepiece")
pytest.importorskip("transformers")
pytest.importorskip("torch")

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.models.manifest import ModelEntry
from harness.models.resolve import resolve_refs, with_models
from harness.mt.ctranslate2 import CTranslate2, CTranslate2Options, inspect_model_dir, model_refs
from harness.mt.ctranslate2 import preflight as ct2_preflight
from harness.mt.transformers_peer import TransformersPeerOptions
from harness.trace import Tracer
from tests.mt_fixtures import TEXTS, TinyModels, phrasebook_lines, tiny_models, train_spm

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


class CountingTranslator:
    """Wraps a ctranslate2.Translator and counts translate_batch calls."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.batches: list[int] = []

    def translate_batch(self, batch, **settings):
        self.batches.append(len(batch))
        return self.inner.translate_batch(batch, **settings)

    def unload_model(self) -> None:
        self.inner.unload_model()


def backend(model: Path, **options) -> CTranslate2:
    options = CTranslate2Options(model=str(model), max_decoding_length=12, **options)
    return open_backend("mt", "ctranslate2", options, BackendContext(threads=1))


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_translates_all_regions_in_one_batch_with_token_counts(tiny: TinyModels, quantization: str) -> None:
    mt = backend(tiny.ct2[quantization], compute_type=quantization)
    counter = CountingTranslator(mt._translator)
    mt._translator = counter
    tracer = Tracer()
    try:
        targets = mt.translate(TEXTS, tracer)
    finally:
        mt.close()
    assert counter.batches == [4]  # the empty region never reaches the model
    assert len(targets) == len(TEXTS)
    assert targets[2] == ""
    assert [s.name for s in tracer.spans] == ["mt.tokenize", "mt.translate", "mt.detokenize"]
    attrs = tracer.spans[1].attrs
    assert attrs["regions"] == 4
    assert len(attrs["tokens_in"]) == len(attrs["tokens_out"]) == 4
    assert all(n >= 2 for n in attrs["tokens_in"])  # at least one piece and </s>
    assert all(0 < n <= 12 for n in attrs["tokens_out"])
    assert mt.compute_type.startswith(quantization)
    assert {p.name for p in mt.model_files()} == {"model.bin", "config.json", "shared_vocabulary.json", "source.spm", "target.spm"}


def test_unbatched_gives_the_same_output_one_call_per_region(tiny: TinyModels) -> None:
    batched, single = backend(tiny.ct2["float32"]), backend(tiny.ct2["float32"], batch=False)
    counter = CountingTranslator(single._translator)
    single._translator = counter
    try:
        assert single.translate(TEXTS) == batched.translate(TEXTS)
    finally:
        batched.close()
        single.close()
    assert counter.batches == [1, 1, 1, 1]


def preflight(options: CTranslate2Options) -> None:
    """The backend's preflight as a run calls it: its model resolved first."""
    ct2_preflight(options, with_models("mt", "ctranslate2", options))


def test_preflight_accepts_the_model_and_resolves_manifest_ids(tiny: TinyModels) -> None:
    from harness.mt.transformers_peer import model_refs as peer_refs

    preflight(CTranslate2Options(model=str(tiny.ct2["int8"]), compute_type="int8"))
    files = tuple(str(p) for p in inspect_model_dir(tiny.ct2["int8"]).files)
    entry = ModelEntry("tiny-ct2", "mt", "ctranslate2", "int8", files, "test", "MIT", family="tiny")
    resolved = resolve_refs(model_refs(CTranslate2Options(model="tiny-ct2")), "mt ct2", [entry])
    assert resolved["model"].path == tiny.ct2["int8"] and resolved["model"].entry == "tiny-ct2"
    with pytest.raises(ConfigError, match="is a ctranslate2 model"):
        resolve_refs(peer_refs(TransformersPeerOptions(model="tiny-ct2")), "mt peer", [entry])


def test_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(DataMissing) as exc:
        backend(tmp_path / "nowhere")
    assert "not found" in one_line(exc)
    assert "arbench models fetch" in str(exc.value)


def test_corrupt_or_absent_model_bin(tiny: TinyModels, tmp_path: Path) -> None:
    broken = shutil.copytree(tiny.ct2["float32"], tmp_path / "broken")
    (broken / "model.bin").write_bytes(b"not a model" * 100)
    with pytest.raises(DataMissing) as exc:
        backend(broken)
    assert "cannot load" in one_line(exc)
    (broken / "model.bin").unlink()
    with pytest.raises(DataMissing) as exc:
        backend(broken)
    assert "model.bin is missing" in one_line(exc)


def test_unreadable_vocabulary_and_missing_tokenizer(tiny: TinyModels, tmp_path: Path) -> None:
    broken = shutil.copytree(tiny.ct2["float32"], tmp_path / "broken")
    (broken / "shared_vocabulary.json").write_text("[truncated", encoding="utf-8")
    with pytest.raises(DataMissing, match=r"shared_vocabulary\.json is unreadable") as exc:
        backend(broken)
    one_line(exc)
    shutil.copy(tiny.ct2["float32"] / "shared_vocabulary.json", broken)
    (broken / "source.spm").unlink()
    with pytest.raises(DataMissing, match="no SentencePiece model") as exc:
        backend(broken)
    one_line(exc)


def test_shared_spm_name_is_accepted(tiny: TinyModels, tmp_path: Path) -> None:
    shared = shutil.copytree(tiny.ct2["float32"], tmp_path / "shared")
    (shared / "source.spm").rename(shared / "spm.model")
    (shared / "target.spm").unlink()
    mt = backend(shared)
    reference = backend(tiny.ct2["float32"])
    try:
        assert mt.translate(TEXTS) == reference.translate(TEXTS)
    finally:
        mt.close()
        reference.close()


def test_tokenizer_mismatch(tiny: TinyModels, tmp_path: Path) -> None:
    foreign = shutil.copytree(tiny.ct2["float32"], tmp_path / "foreign")
    (foreign / "source.spm").write_bytes(train_spm(phrasebook_lines("de"), vocab_size=250))
    with pytest.raises(DataMissing) as exc:
        backend(foreign)
    message = one_line(exc)
    assert "tokenizer mismatch" in message
    assert "source.spm" in message and "shared_vocabulary.json" in message


@pytest.mark.parametrize(
    ("compute_type", "expected"), [("float16", "not supported on cpu here; supported: "), ("int4", "unknown compute_type")]
)
def test_unsupported_compute_type(tiny: TinyModels, compute_type: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        backend(tiny.ct2["float32"], compute_type=compute_type, device="cpu")
    assert expected in one_line(exc)
    if compute_type == "float16":
        assert "float32" in str(exc.value) and "int8" in str(exc.value)
    with pytest.raises(ConfigError):
        preflight(CTranslate2Options(model=str(tiny.ct2["float32"]), compute_type=compute_type, device="cpu"))


def test_cuda_without_cuda_says_so(tiny: TinyModels, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctranslate2

    def no_driver(device: str) -> set[str]:
        if device == "cuda":
            raise RuntimeError("CUDA driver version is insufficient")
        return {"float32"}

    monkeypatch.setattr(ctranslate2, "get_supported_compute_types", no_driver)
    with pytest.raises(ConfigError, match=r"'float16' is not supported on cuda here; supported: none \(CTranslate2 cannot use"):
        backend(tiny.ct2["float32"], compute_type="float16", device="cuda")


def test_auto_device_is_cpu_without_cuda(tiny: TinyModels, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctranslate2

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    context = BackendContext(threads=1, providers=("CUDAExecutionProvider", "CPUExecutionProvider"))
    mt = open_backend("mt", "ctranslate2", CTranslate2Options(model=str(tiny.ct2["int8"])), context)
    try:
        assert mt.device == "cpu"
    finally:
        mt.close()


def test_missing_package_names_the_install_command(tiny: TinyModels, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ctranslate2", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'arbench\[mt\]'"):
        preflight(CTranslate2Options(model=str(tiny.ct2["float32"])))


@pytest.mark.parametrize("name", ["ctranslate2", "transformers"])
def test_output_length_is_bounded_by_the_source_length(tiny: TinyModels, name: str) -> None:
    """max_length_ratio bounds every output at ratio x its own source's tokens + 4, in both runtimes, in one batch."""
    path = tiny.ct2["float32"] if name == "ctranslate2" else tiny.hf
    options_class = CTranslate2Options if name == "ctranslate2" else TransformersPeerOptions
    texts = ["Exit", "Platform 2 " * 6]
    lengths = {}
    for ratio in (0.0, 1.0):
        options = options_class(model=str(path), max_decoding_length=60, min_decoding_length=60, max_length_ratio=ratio)
        mt = open_backend("mt", name, options, BackendContext(threads=1))
        tracer = Tracer()
        mt.translate(texts, tracer)
        mt.close()
        span = next(s for s in tracer.spans if s.name == "mt.translate")
        lengths[ratio] = (span.attrs["tokens_in"], span.attrs["tokens_out"])
    tokens_in, unbounded = lengths[0.0]
    assert unbounded == [60, 60]  # min_decoding_length forces long outputs; the bound must cut them
    short, long = lengths[1.0][1]
    assert short <= tokens_in[0] + 4 < long <= tokens_in[1] + 4  # each at its own bound, though decoded together


def test_decoding_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="max_length_ratio"):
        CTranslate2Options(model="x", max_length_ratio=-1)
    with pytest.raises(ConfigError, match="repetition_penalty"):
        CTranslate2Options(model="x", repetition_penalty=0)
    assert CTranslate2Options(model="x").decoding_lengths(10) == (1, 34)
    assert CTranslate2Options(model="x", max_length_ratio=0).decoding_lengths(10) == (1, 256)
