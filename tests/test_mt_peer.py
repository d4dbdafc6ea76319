"""The transformers peer: same greedy output and token counts as CTranslate2 float32 on the same weights."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from harness.models.resolve import with_models
from harness.testing.backends import open_backend

pytest.importorskip("ctranslate2")
pytest.importorskip("sentencepiece")
pytest.importorskip("transformers")
pytest.importorskip("torch")

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.mt.ctranslate2 import CTranslate2Options
from harness.mt.transformers_peer import TransformersPeer, TransformersPeerOptions, preflight
from harness.sources.phrasebook import load_phrasebook
from harness.trace import Tracer
from tests.mt_fixtures import TEXTS, TinyModels, tiny_models

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")

CONTEXT = BackendContext(threads=1)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


def peer(model: Path, **options) -> TransformersPeer:
    return open_backend("mt", "transformers", TransformersPeerOptions(model=str(model), max_decoding_length=12, **options), CONTEXT)


def test_peer_and_ctranslate2_agree_greedily_on_the_same_weights(tiny: TinyModels) -> None:
    texts = [*TEXTS, *(e.en for e in load_phrasebook()[:60])]
    ct2_options = CTranslate2Options(model=str(tiny.ct2["float32"]), max_decoding_length=12)
    torch_mt, ct2 = peer(tiny.hf), open_backend("mt", "ctranslate2", ct2_options, CONTEXT)
    torch_trace, ct2_trace = Tracer(), Tracer()
    try:
        assert torch_mt.translate(texts, torch_trace) == ct2.translate(texts, ct2_trace)
    finally:
        torch_mt.close()
        ct2.close()
    assert [s.name for s in torch_trace.spans] == ["mt.tokenize", "mt.translate", "mt.detokenize"]
    for key in ("regions", "tokens_in", "tokens_out"):
        assert torch_trace.spans[1].attrs[key] == ct2_trace.spans[1].attrs[key]
    lengths = set(ct2_trace.spans[1].attrs["tokens_out"])
    assert 12 in lengths and len(lengths) > 3  # some outputs end on </s>, others run into the limit


def test_unbatched_peer_matches_batched(tiny: TinyModels) -> None:
    batched, single = peer(tiny.hf), peer(tiny.hf, batch=False)
    assert single.translate(TEXTS) == batched.translate(TEXTS)
    assert single.model_files()[0].name == "config.json"


def test_beam_search_runs(tiny: TinyModels) -> None:  # transformers' beam search, not always CTranslate2's result
    tracer = Tracer()
    targets = peer(tiny.hf, beam_size=3).translate(TEXTS, tracer)
    assert len(targets) == len(TEXTS) and targets[2] == ""
    assert all(0 < n <= 12 for n in tracer.spans[1].attrs["tokens_out"])


def test_missing_or_broken_model_directory(tiny: TinyModels, tmp_path: Path) -> None:
    with pytest.raises(DataMissing, match="not found"):
        peer(tmp_path / "nowhere")
    broken = shutil.copytree(tiny.hf, tmp_path / "broken")
    (broken / "model.safetensors").unlink()
    with pytest.raises(DataMissing, match="cannot load") as exc:
        peer(broken)
    assert "\n" not in str(exc.value)
    (broken / "config.json").unlink()
    with pytest.raises(DataMissing, match=r"no config\.json"):
        options = TransformersPeerOptions(model=str(broken))
        preflight(options, with_models("mt", "transformers", options))


def test_unsupported_compute_type(tiny: TinyModels) -> None:
    with pytest.raises(ConfigError, match="'float16' is not supported on cpu; supported: float32, bfloat16"):
        peer(tiny.hf, compute_type="float16", device="cpu")


def test_missing_packages_name_the_pip_command(tiny: TinyModels, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'arbench\[peer\]'.*torch==2.13.0 transformers"):
        peer(tiny.hf)
