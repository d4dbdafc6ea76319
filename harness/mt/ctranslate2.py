"""Neural MT with CTranslate2: a converted Marian (or other seq2seq) model and its SentencePiece files.

A model directory holds what ``ctranslate2.converters`` writes (``model.bin``, ``config.json`` and
``shared_vocabulary.json``, or ``source_vocabulary.json`` + ``target_vocabulary.json``; older
converters write ``.txt`` vocabularies) plus the SentencePiece models beside it, under either naming:

- ``source.spm`` and ``target.spm`` (Marian / OPUS-MT; used when both exist), or
- one shared ``spm.model``, ``sentencepiece.model`` or ``sentencepiece.bpe.model`` for both sides.

``arbench models fetch`` (``harness.models.fetch``) writes such directories. Before loading, the
SentencePiece pieces are checked against the model's vocabularies, so a tokenizer from another model
is a one-line error rather than fluent nonsense.

All regions of a frame go to the model as one ``translate_batch`` call. Given a tracer, ``translate``
records "mt.tokenize", "mt.translate" and "mt.detokenize" inside the pipeline's "mt" span; the
"mt.translate" span carries ``tokens_in`` and ``tokens_out`` (one count per region: source tokens the
encoder read, with the end-of-sentence token; target tokens produced, without it), so decoding
tokens/s is ``sum(tokens_out) / duration``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.context import BackendContext, ModelRef
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.mt.base import MtOptions
from harness.trace import Tracer

__all__ = ["CTranslate2", "CTranslate2Options", "ModelDir", "inspect_model_dir", "model_refs", "numeric_precision", "preflight"]

INSTALL = "run `pip install 'arbench[mt]'` (ctranslate2 sentencepiece)"
SHARED_SPM = ("spm.model", "sentencepiece.model", "sentencepiece.bpe.model")
COMPUTE_TYPES = {
    "cpu": ("default", "auto", "float32", "int8", "int8_float32", "int16"),
    "cuda": ("default", "auto", "float32", "float16", "bfloat16", "int8", "int8_float32", "int8_float16", "int8_bfloat16"),
}
# Share of SentencePiece pieces allowed outside the model vocabulary: Marian builds its vocabulary from
# the encoded training data, so pieces that never occurred there may be absent; another model's
# SentencePiece misses far more (with the tests' 300-piece model: one trained on other English and
# Spanish sentences misses 59% of its pieces, a German one 70%).
MISMATCH_TOLERANCE = 0.02
CUDA_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


@dataclass(frozen=True)
class CTranslate2Options(MtOptions):
    """Options of the CTranslate2 backend (the shared ones: ``MtOptions``).

    ``model``: a CTranslate2 model directory or a manifest id. ``compute_type``: float32, int8, int8_float32
    or int16 on CPU; float16, bfloat16, int8_float16, int8_bfloat16 (and the CPU ones) on CUDA; "default"
    keeps the type the model was converted to. ``inter_threads``: batches translated in parallel.
    """

    model: str = "opus-mt-en-es-ct2-int8"
    compute_type: str = "default"
    inter_threads: int = 1


def model_refs(options: CTranslate2Options) -> dict[str, ModelRef]:
    """The model directory the options name (a manifest id or a path)."""
    return {"model": ModelRef(name=options.model, backend="ctranslate2", form="dir")}


def numeric_precision(options: MtOptions) -> str:
    """The compute type the options ask for ("default": the model's own)."""
    return options.compute_type


@dataclass(frozen=True)
class ModelDir:
    """A checked CTranslate2 model directory: its SentencePiece files and every file that defines it."""

    path: Path
    source_spm: Path
    target_spm: Path
    files: tuple[Path, ...]


def _import(name: str) -> Any:
    """Import ``ctranslate2`` or ``sentencepiece`` or say how to install them."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise BackendUnavailable(f"ctranslate2 backend: Python package {name!r} missing; {INSTALL}") from None


def _sentencepiece_files(path: Path) -> tuple[Path, Path]:
    source, target = path / "source.spm", path / "target.spm"
    if source.is_file() and target.is_file():
        return source, target
    for name in SHARED_SPM:
        if (path / name).is_file():
            return path / name, path / name
    raise DataMissing(
        f"ctranslate2 backend: no SentencePiece model in {path}: expected source.spm and target.spm, or one of"
        f" {', '.join(SHARED_SPM)}; copy them from the Transformers model (`arbench models fetch` does)"
    )


def _vocabulary(path: Path, side: str) -> tuple[Path, list[str]]:
    """The model's vocabulary for ``side`` ("source" or "target"), from the files the converter writes."""
    for stem in ("shared_vocabulary", f"{side}_vocabulary"):
        for suffix in (".json", ".txt"):
            file = path / f"{stem}{suffix}"
            if file.is_file():
                try:
                    text = file.read_text(encoding="utf-8")
                    return file, json.loads(text) if suffix == ".json" else text.splitlines()
                except (OSError, ValueError) as exc:
                    raise DataMissing(f"ctranslate2 backend: {file} is unreadable ({exc}); convert the model again") from None
    raise DataMissing(f"ctranslate2 backend: {path} has no {side} vocabulary (shared_vocabulary.json or {side}_vocabulary.json)")


def _check_tokenizer(spm: Path, vocabulary: list[str], vocab_file: Path) -> None:
    """Raise DataMissing when the SentencePiece model's pieces are not the model vocabulary's."""
    sentencepiece = _import("sentencepiece")
    try:
        processor = sentencepiece.SentencePieceProcessor(model_file=str(spm))
    except (OSError, RuntimeError) as exc:
        raise DataMissing(f"ctranslate2 backend: {spm} is not a SentencePiece model ({exc})") from None
    ids = range(processor.get_piece_size())
    pieces = [processor.id_to_piece(i) for i in ids if not (processor.is_control(i) or processor.is_unknown(i) or processor.is_unused(i))]
    known = set(vocabulary)
    missing = [p for p in pieces if p not in known]
    if len(missing) > MISMATCH_TOLERANCE * len(pieces):
        raise DataMissing(
            f"ctranslate2 backend: tokenizer mismatch: {len(missing)} of {len(pieces)} pieces of {spm.name} (e.g. {missing[0]!r})"
            f" are not in {vocab_file.name} ({len(vocabulary)} tokens); put the model's own SentencePiece files beside it"
        )


def inspect_model_dir(path: Path) -> ModelDir:
    """Check a CTranslate2 model directory without loading it: model.bin, config, vocabularies, tokenizers."""
    model_bin = path / "model.bin"
    if not model_bin.is_file() or model_bin.stat().st_size == 0:
        raise DataMissing(f"ctranslate2 backend: {model_bin} is missing or empty; convert the model again (`arbench models fetch`)")
    source_spm, target_spm = _sentencepiece_files(path)
    vocab_files = []
    for side, spm in (("source", source_spm), ("target", target_spm)):
        vocab_file, vocabulary = _vocabulary(path, side)
        _check_tokenizer(spm, vocabulary, vocab_file)
        vocab_files.append(vocab_file)
    config = [path / "config.json"] if (path / "config.json").is_file() else []
    files = (model_bin, *config, *dict.fromkeys(vocab_files), *dict.fromkeys((source_spm, target_spm)))
    return ModelDir(path, source_spm, target_spm, files)


def _supported(ctranslate2: Any, device: str) -> set[str]:
    try:
        return set(ctranslate2.get_supported_compute_types(device)) | {"default", "auto"}
    except (RuntimeError, ValueError):  # no usable CUDA driver
        return set()


def check_compute_type(ctranslate2: Any, compute_type: str, devices: Sequence[str]) -> None:
    """Raise ConfigError unless ``compute_type`` runs on one of ``devices`` here; the message lists what does."""
    known = {t for d in COMPUTE_TYPES.values() for t in d}
    if compute_type not in known:
        raise ConfigError(f"ctranslate2 backend: unknown compute_type {compute_type!r}; valid: {', '.join(sorted(known))}")
    supported = set().union(*(_supported(ctranslate2, d) for d in devices))
    if compute_type not in supported:
        have = ", ".join(sorted(supported - {"default", "auto"})) or "none (CTranslate2 cannot use this device here)"
        raise ConfigError(
            f"ctranslate2 backend: compute_type {compute_type!r} is not supported on {'/'.join(devices)} here; supported: {have}"
        )


def _devices(options: CTranslate2Options, ctranslate2: Any, context: BackendContext | None) -> list[str]:
    """The device(s) the options may mean: one when ``context`` is known, both for "auto" at preflight."""
    if options.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"ctranslate2 backend: unknown device {options.device!r}; valid: auto, cpu, cuda")
    if options.device != "auto":
        return [options.device]
    has_cuda = ctranslate2.get_cuda_device_count() > 0
    if context is None:
        return ["cpu", "cuda"] if has_cuda else ["cpu"]
    return ["cuda"] if has_cuda and any(p in CUDA_PROVIDERS for p in context.providers) else ["cpu"]


def preflight(options: CTranslate2Options, context: BackendContext) -> None:
    """Check before a run: packages, the resolved model directory's tokenizers, and the compute type."""
    ctranslate2 = _import("ctranslate2")
    inspect_model_dir(context.model("model", "ctranslate2"))
    check_compute_type(ctranslate2, options.compute_type, _devices(options, ctranslate2, context))


class CTranslate2:
    """A CTranslate2 ``Translator`` with SentencePiece on both sides; ``compute_type`` is what it really runs."""

    name = "ctranslate2"

    def __init__(self, options: CTranslate2Options, context: BackendContext) -> None:
        self.options = options
        ctranslate2, sentencepiece = _import("ctranslate2"), _import("sentencepiece")
        self.model = inspect_model_dir(context.model("model", self.name))
        [self.device] = _devices(options, ctranslate2, context)
        check_compute_type(ctranslate2, options.compute_type, [self.device])
        self._translator = self._load(ctranslate2, options.intra_threads or context.threads)
        self.compute_type: str = self._translator.compute_type
        self._source = sentencepiece.SentencePieceProcessor(model_file=str(self.model.source_spm))
        self._target = sentencepiece.SentencePieceProcessor(model_file=str(self.model.target_spm))
        self._eos = self._source_eos()

    def _load(self, ctranslate2: Any, intra_threads: int) -> Any:
        try:
            return ctranslate2.Translator(
                str(self.model.path),
                device=self.device,
                compute_type=self.options.compute_type,
                inter_threads=self.options.inter_threads,
                intra_threads=intra_threads,
            )
        except RuntimeError as exc:  # truncated or foreign model.bin
            raise DataMissing(f"ctranslate2 backend: cannot load {self.model.path}: {exc}; convert the model again") from None

    def _source_eos(self) -> list[str]:
        """The end token to append to each source, unless the model adds it itself (``add_source_eos``)."""
        config_file = self.model.path / "config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        return [] if config.get("add_source_eos") else [config.get("eos_token", "</s>")]

    def model_files(self) -> tuple[Path, ...]:
        return self.model.files

    def accelerators(self) -> dict[str, str]:
        """Where the model runs: CTranslate2's device (cpu or cuda)."""
        return {"model": self.device}

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        """One target per source; empty sources give empty targets without reaching the model."""
        tracer = tracer or Tracer()
        keep = [i for i, text in enumerate(texts) if text.strip()]
        with tracer.span("mt.tokenize"):
            sources = [[*pieces, *self._eos] for pieces in self._source.encode([texts[i] for i in keep], out_type=str)]
        with tracer.span("mt.translate") as attrs:
            start = time.perf_counter_ns()
            hypotheses = self._decode(sources)
            attrs["model_ns"] = time.perf_counter_ns() - start
            attrs.update(regions=len(sources), tokens_in=[len(s) for s in sources], tokens_out=[len(h) for h in hypotheses])
        targets = [""] * len(texts)
        with tracer.span("mt.detokenize"):
            for index, pieces in zip(keep, hypotheses, strict=True):
                targets[index] = self._target.decode(pieces)
        return targets

    def _decode(self, sources: list[list[str]]) -> list[list[str]]:
        if not sources:
            return []
        batches = [sources] if self.options.batch else [[s] for s in sources]
        options = self.options
        settings = {
            "beam_size": options.beam_size,
            "repetition_penalty": options.repetition_penalty,
            "no_repeat_ngram_size": options.no_repeat_ngram_size,
        }
        hypotheses = []
        for batch in batches:
            fewest, most = options.decoding_lengths(max(map(len, batch)))
            results = self._translator.translate_batch(batch, min_decoding_length=fewest, max_decoding_length=most, **settings)
            hypotheses += [r.hypotheses[0][: options.decoding_limit(len(source))] for source, r in zip(batch, results, strict=True)]
        return hypotheses

    def close(self) -> None:
        """Free the model's memory now rather than at garbage collection."""
        self._translator.unload_model()
