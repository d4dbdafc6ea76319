"""Transformers Marian models → CTranslate2 directories, and ``arbench models fetch`` for OPUS-MT.

``convert_marian`` runs ``ctranslate2.converters.TransformersConverter`` at one quantization, copies the
SentencePiece files beside the result and writes ``convert.json`` there: the quantization, library
versions and the sha256 of every source and output file. ``fetch_opus_mt`` downloads a Helsinki-NLP
OPUS-MT model with ``huggingface_hub.snapshot_download`` into ``DEST/hf``, converts it to
``DEST/ct2-float32`` and ``DEST/ct2-int8``, checks each output (files, vocabularies, tokenizers) and
re-hashes it against its record. The download is one injectable function; with ``source`` (the CLI's
``--from DIR``) nothing is downloaded and a local Transformers directory is converted instead, which is
also how the tests run the whole path offline.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from importlib.util import find_spec
from pathlib import Path
from types import MappingProxyType

from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.mt.ctranslate2 import inspect_model_dir
from harness.paths import project_root
from harness.system.fingerprint import sha256_file
from harness.system.software import package_versions

__all__ = ["OPUS_MT", "RECORD", "cmd_models_fetch", "convert_marian", "fetch_opus_mt", "snapshot", "verify_record", "versions"]

RECORD = "convert.json"
RECORD_VERSION = 1
OPUS_MT = MappingProxyType({"opus-mt-en-es": "Helsinki-NLP/opus-mt-en-es", "opus-mt-en-de": "Helsinki-NLP/opus-mt-en-de"})
QUANTIZATIONS = ("float32", "int8", "int8_float32", "int16", "float16", "bfloat16", "int8_float16", "int8_bfloat16")
SPM_FILES = ("source.spm", "target.spm", "spm.model", "sentencepiece.model", "sentencepiece.bpe.model")
HF_FILES = ("config.json", "generation_config.json", "tokenizer_config.json", "vocab.json", "*.spm", "*.safetensors", "pytorch_model.bin")
Download = Callable[[str, Path], Path]


def _hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (its record aside), keyed by relative path."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != RECORD and ".cache" not in p.parts)
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}


def versions() -> dict[str, str | None]:
    """Versions of the packages a conversion uses (None: not installed)."""
    return package_versions(("ctranslate2", "transformers", "torch", "sentencepiece"))


def convert_marian(hf_dir: Path, out_dir: Path, quantization: str = "float32") -> Path:
    """Convert the Transformers model in ``hf_dir`` into ``out_dir`` (replaced) and record its hashes."""
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"unknown quantization {quantization!r}; valid: {', '.join(QUANTIZATIONS)}")
    if not (hf_dir / "config.json").is_file():
        raise DataMissing(f"{hf_dir} is not a Transformers model directory (no config.json)")
    missing = [name for name in ("ctranslate2", "torch", "transformers") if find_spec(name) is None]
    if missing:  # ctranslate2's converters import without torch and transformers, then fail when used
        raise BackendUnavailable(
            f"converting needs ctranslate2, torch and transformers ({', '.join(missing)} missing); run `pip install 'arbench[mt,peer]'`"
        )
    from ctranslate2.converters import TransformersConverter

    spm = [name for name in SPM_FILES if (hf_dir / name).is_file()]
    if not spm:
        raise DataMissing(f"{hf_dir} has no SentencePiece files ({', '.join(SPM_FILES)}); the converted model could not tokenize")
    TransformersConverter(str(hf_dir), copy_files=spm).convert(str(out_dir), quantization=quantization, force=True)
    record = {
        "record_version": RECORD_VERSION,
        "quantization": quantization,
        "source": str(hf_dir),
        "source_sha256": _hashes(hf_dir),
        "versions": versions(),
        "sha256": _hashes(out_dir),
    }
    (out_dir / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out_dir


def verify_record(out_dir: Path) -> dict[str, object]:
    """The record of a converted directory, after checking every file it lists against its sha256."""
    try:
        record = json.loads((out_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataMissing(f"{out_dir / RECORD} is missing or unreadable ({exc}); convert the model again") from None
    actual = _hashes(out_dir)
    for name, expected in record["sha256"].items():
        if actual.get(name) != expected:
            state = "missing" if name not in actual else "changed since conversion"
            raise DataMissing(f"{out_dir / name} is {state}; convert the model again (`arbench models fetch ... --force`)")
    return record


def _current(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds a complete conversion whose files still match their record."""
    try:
        verify_record(out_dir)
        inspect_model_dir(out_dir)
    except DataMissing:
        return False
    return True


def snapshot(repo_id: str, target: Path) -> Path:
    """Download the files of a Hugging Face model repository that conversion needs into ``target``."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise BackendUnavailable(
            "downloading needs huggingface_hub; run `pip install 'arbench[fetch]'`, or convert a local copy with --from DIR"
        ) from None
    try:
        return Path(snapshot_download(repo_id, local_dir=target, allow_patterns=list(HF_FILES)))
    except Exception as exc:  # network, DNS, HTTP, disk: all fixable by the user, so one line
        reason = " ".join(str(exc).split())[:200]
        raise DataMissing(
            f"could not download {repo_id} ({type(exc).__name__}: {reason}); download it elsewhere and use --from DIR"
        ) from exc


def fetch_opus_mt(
    name: str,
    dest: Path | None = None,
    *,
    source: Path | None = None,
    quantizations: Sequence[str] = ("float32", "int8"),
    force: bool = False,
    download: Download = snapshot,
) -> list[Path]:
    """Download (or take from ``source``) OPUS-MT ``name`` and convert it; returns the CTranslate2 folders.

    Folders that are complete and match their records are kept unless ``force``; nothing is downloaded
    then. ``dest`` defaults to models/NAME in the project.
    """
    if name not in OPUS_MT:
        raise ConfigError(f"unknown model {name!r} to fetch; known: {', '.join(OPUS_MT)}")
    dest = dest or project_root() / "models" / name
    outputs = [dest / f"ct2-{q}" for q in quantizations]
    if not force and all(_current(out) for out in outputs):
        return outputs
    hf_dir = source if source is not None else download(OPUS_MT[name], dest / "hf")
    if not hf_dir.is_dir():
        raise DataMissing(f"{hf_dir} is not a directory; give --from the folder `save_pretrained` wrote")
    for quantization, out in zip(quantizations, outputs, strict=True):
        convert_marian(hf_dir, out, quantization)
        verify_record(out)
        inspect_model_dir(out)
    return outputs


def cmd_models_fetch(args: argparse.Namespace) -> int:
    """`arbench models fetch NAME [--dest DIR] [--from DIR] [--quantization Q ...] [--force]`."""
    outputs = fetch_opus_mt(
        args.name,
        Path(args.dest) if args.dest else None,
        source=Path(args.source) if args.source else None,
        quantizations=args.quantization or ("float32", "int8"),
        force=args.force,
    )
    for out in outputs:
        print(out)
    return 0
