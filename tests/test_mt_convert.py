"""Conversion records and `arbench models fetch`, run offline against the tiny Marian model."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from harness.testing.backends import open_backend

pytest.importorskip("ctranslate2")
pytest.importorskip("sentencepiece")
pytest.importorskip("transformers")
pytest.importorskip("torch")

from harness.context import BackendContext
from harness.errors import ConfigError, DataMissing
from harness.models.fetch import OPUS_MT, RECORD, cmd_models_fetch, convert_marian, fetch_opus_mt, verify_record
from harness.mt.ctranslate2 import CTranslate2Options
from harness.system.fingerprint import sha256_file
from tests.mt_fixtures import TEXTS, TinyModels, tiny_models

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


def test_conversion_records_every_file(tiny: TinyModels) -> None:
    out = tiny.ct2["int8"]
    record = json.loads((out / RECORD).read_text(encoding="utf-8"))
    assert record["quantization"] == "int8"
    files = sorted(p.name for p in out.iterdir() if p.name != RECORD)
    assert sorted(record["sha256"]) == files
    assert {"model.bin", "source.spm", "target.spm", "shared_vocabulary.json"} <= set(files)
    assert all(record["sha256"][name] == sha256_file(out / name) for name in files)
    assert record["source_sha256"]["vocab.json"] == sha256_file(tiny.hf / "vocab.json")
    assert record["versions"]["ctranslate2"]
    assert verify_record(out) == record


def test_verify_record_finds_changed_and_missing_files(tiny: TinyModels, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny.ct2["float32"], tmp_path / "copy")
    (copy / "target.spm").write_bytes(b"x")
    with pytest.raises(DataMissing, match=r"target\.spm is changed since conversion"):
        verify_record(copy)
    (copy / "target.spm").unlink()
    with pytest.raises(DataMissing, match=r"target\.spm is missing"):
        verify_record(copy)


def test_conversion_errors(tiny: TinyModels, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown quantization 'int3'"):
        convert_marian(tiny.hf, tmp_path / "out", "int3")
    with pytest.raises(DataMissing, match="not a Transformers model directory"):
        convert_marian(tmp_path, tmp_path / "out")
    no_spm = shutil.copytree(tiny.hf, tmp_path / "no-spm", ignore=shutil.ignore_patterns("*.spm"))
    with pytest.raises(DataMissing, match="no SentencePiece files"):
        convert_marian(no_spm, tmp_path / "out")


def test_fetch_downloads_through_the_injected_function_then_converts(tiny: TinyModels, tmp_path: Path) -> None:
    calls: list[str] = []

    def download(repo_id: str, target: Path) -> Path:
        calls.append(repo_id)
        return shutil.copytree(tiny.hf, target)

    outputs = fetch_opus_mt("opus-mt-en-es", tmp_path / "dest", download=download)
    assert calls == ["Helsinki-NLP/opus-mt-en-es"]
    assert outputs == [tmp_path / "dest" / "ct2-float32", tmp_path / "dest" / "ct2-int8"]
    assert [verify_record(out)["quantization"] for out in outputs] == ["float32", "int8"]
    mt = open_backend("mt", "ctranslate2", CTranslate2Options(model=str(outputs[0]), max_decoding_length=12), BackendContext(threads=1))
    reference_options = CTranslate2Options(model=str(tiny.ct2["float32"]), max_decoding_length=12)
    reference = open_backend("mt", "ctranslate2", reference_options, BackendContext(threads=1))
    try:
        assert mt.translate(TEXTS) == reference.translate(TEXTS)
    finally:
        mt.close()
        reference.close()
    assert fetch_opus_mt("opus-mt-en-es", tmp_path / "dest", download=download) == outputs
    assert calls == ["Helsinki-NLP/opus-mt-en-es"]  # complete and verified: nothing fetched again
    (outputs[1] / "model.bin").write_bytes(b"damaged")
    again: list[Path] = []

    def refresh(repo_id: str, target: Path) -> Path:  # snapshot_download updates an existing folder in place
        again.append(target)
        return target

    fetch_opus_mt("opus-mt-en-es", tmp_path / "dest", download=refresh)
    assert again == [tmp_path / "dest" / "hf"]  # a damaged output makes the fetch run again
    verify_record(outputs[1])


def test_cli_handler_converts_a_local_directory_offline(tiny: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(name="opus-mt-en-de", dest=str(tmp_path / "de"), source=str(tiny.hf), quantization=["int8"], force=False)
    assert cmd_models_fetch(args) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "de" / "ct2-int8")]
    assert verify_record(tmp_path / "de" / "ct2-int8")["source"] == str(tiny.hf)
    assert not (tmp_path / "de" / "hf").exists()  # --from converts in place: nothing downloaded or copied


def test_fetch_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"unknown model 'opus-mt-xx' to fetch; known: {', '.join(OPUS_MT)}"):
        fetch_opus_mt("opus-mt-xx", tmp_path)
    with pytest.raises(DataMissing, match="is not a directory"):
        fetch_opus_mt("opus-mt-en-es", tmp_path / "dest", source=tmp_path / "nowhere")
