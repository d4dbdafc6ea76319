"""The PyTorch peer of the CTranslate2 backend: the same Hugging Face model run by ``transformers``.

It exists to compare runtimes on the same weights (CTranslate2 float32 and this peer give the same
greedy output) and to measure what the conversion buys. Models load offline only
(``local_files_only``): a directory as ``save_pretrained`` or ``arbench models fetch`` leaves it (the
``hf`` folder), or a manifest id.

Decoding mirrors CTranslate2's: beam search with ``beam_size`` beams (greedy at 1), at least
``min_decoding_length`` target tokens before the end token, at most ``max_decoding_length`` and no end
token forced at that limit, the padding token never generated. Beam search is transformers' own, so
only greedy output is guaranteed to equal CTranslate2's. Spans and token counts are the CTranslate2
backend's: "mt.tokenize", "mt.translate" (with ``tokens_in`` / ``tokens_out`` per region) and
"mt.detokenize".
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.context import BackendContext, ModelRef
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.mt.base import MtOptions
from harness.mt.ctranslate2 import CUDA_PROVIDERS, numeric_precision
from harness.trace import Tracer

__all__ = ["TransformersPeer", "TransformersPeerOptions", "model_refs", "numeric_precision", "preflight"]

INSTALL = "run `pip install 'arbench[peer]'` (torch==2.13.0 transformers sentencepiece)"
COMPUTE_TYPES = {"cpu": ("float32", "bfloat16"), "cuda": ("float32", "float16", "bfloat16")}
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "pytorch_model.bin", "source.spm", "target.spm", "vocab.json")


@dataclass(frozen=True)
class TransformersPeerOptions(MtOptions):
    """Options of the transformers backend, named as the ctranslate2 backend's (``MtOptions``).

    ``model``: a Transformers model directory or a manifest id. ``compute_type``: float32 or bfloat16 on
    CPU, also float16 on CUDA. ``intra_threads``: ``torch.set_num_threads``. There is no
    ``inter_threads``: PyTorch fixes it once per process.
    """

    model: str = "opus-mt-en-es-hf"


def model_refs(options: TransformersPeerOptions) -> dict[str, ModelRef]:
    """The model directory the options name (a manifest id or a path)."""
    return {"model": ModelRef(name=options.model, backend="transformers", form="dir")}


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise BackendUnavailable(f"transformers backend: Python package {name!r} missing; {INSTALL}") from None


def _model_dir(context: BackendContext) -> Path:
    path = context.model("model", "transformers")
    if not (path / "config.json").is_file():
        raise DataMissing(f"transformers backend: {path} has no config.json; point `model` at a `save_pretrained` directory")
    return path


def _device(options: TransformersPeerOptions, torch: Any, context: BackendContext) -> str:
    if options.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"transformers backend: unknown device {options.device!r}; valid: auto, cpu, cuda")
    has_cuda = torch.cuda.is_available()
    if options.device == "auto":
        return "cuda" if has_cuda and any(p in CUDA_PROVIDERS for p in context.providers) else "cpu"
    if options.device == "cuda" and not has_cuda:
        raise BackendUnavailable("transformers backend: device 'cuda' asked for, but PyTorch sees no CUDA GPU (a CPU build?)")
    return options.device


def _check_compute_type(compute_type: str, device: str) -> None:
    supported = ", ".join(COMPUTE_TYPES[device])
    if compute_type not in COMPUTE_TYPES[device]:
        raise ConfigError(f"transformers backend: compute_type {compute_type!r} is not supported on {device}; supported: {supported}")


def preflight(options: TransformersPeerOptions, context: BackendContext) -> None:
    """Check before a run: packages, the resolved model directory, device and compute type."""
    torch = _import("torch")
    _import("transformers")
    _import("sentencepiece")
    _model_dir(context)
    device = _device(options, torch, BackendContext(providers=CUDA_PROVIDERS))  # any device this machine has
    _check_compute_type(options.compute_type, device)


class TransformersPeer:
    """A Hugging Face seq2seq model (Marian and others) with its own tokenizer, run by PyTorch."""

    name = "transformers"

    def __init__(self, options: TransformersPeerOptions, context: BackendContext) -> None:
        self.options = options
        self._torch, transformers = _import("torch"), _import("transformers")
        _import("sentencepiece")
        self.path = _model_dir(context)
        self.device = _device(options, self._torch, context)
        _check_compute_type(options.compute_type, self.device)
        threads = options.intra_threads or context.threads
        if threads:
            self._torch.set_num_threads(threads)
        self._tokenizer, self._model = self._load(transformers)

    def _load(self, transformers: Any) -> tuple[Any, Any]:
        dtype = getattr(self._torch, self.options.compute_type)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            model = transformers.AutoModelForSeq2SeqLM.from_pretrained(self.path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise DataMissing(f"transformers backend: cannot load {self.path}: {' '.join(str(exc).split())}") from None
        model.generation_config.forced_eos_token_id = None  # CTranslate2 stops at the limit without forcing </s>
        return tokenizer, model.to(self.device).eval()

    def model_files(self) -> tuple[Path, ...]:
        return tuple(self.path / name for name in MODEL_FILES if (self.path / name).is_file())

    def accelerators(self) -> dict[str, str]:
        """Where the model runs: torch's device (cpu or cuda)."""
        return {"model": self.device}

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        """One target per source; empty sources give empty targets without reaching the model."""
        tracer = tracer or Tracer()
        keep = [i for i, text in enumerate(texts) if text.strip()]
        chunks = [[texts[i] for i in keep]] if self.options.batch else [[texts[i]] for i in keep]
        with tracer.span("mt.tokenize"):
            inputs = [self._tokenizer(chunk, return_tensors="pt", padding=True).to(self.device) for chunk in chunks if chunk]
        with tracer.span("mt.translate") as attrs:
            start = time.perf_counter_ns()
            outputs = [self._generate(batch) for batch in inputs]
            if self.device.startswith("cuda"):  # the span ends when the GPU has finished, not when its work was queued
                self._torch.cuda.synchronize(self.device)
            attrs["model_ns"] = time.perf_counter_ns() - start
            tokens_in = [int(n) for batch in inputs for n in batch["attention_mask"].sum(dim=1)]
            tokens_out = [self._count(row) for output in outputs for row in output]
            attrs.update(regions=len(keep), tokens_in=tokens_in, tokens_out=tokens_out)
        targets = [""] * len(texts)
        with tracer.span("mt.detokenize"):
            decoded = [t for output in outputs for t in self._tokenizer.batch_decode(output, skip_special_tokens=True)]
            for index, text in zip(keep, decoded, strict=True):
                targets[index] = text
        return targets

    def _generate(self, batch: Any) -> Any:
        pad = self._model.generation_config.pad_token_id
        fewest, most = self.options.decoding_lengths(int(batch["attention_mask"].sum(dim=1).max()))
        with self._torch.inference_mode():
            output = self._model.generate(
                **batch,
                num_beams=self.options.beam_size,
                do_sample=False,
                min_new_tokens=fewest,
                max_new_tokens=most,
                repetition_penalty=self.options.repetition_penalty,
                no_repeat_ngram_size=self.options.no_repeat_ngram_size,
                bad_words_ids=None if pad is None else [[pad]],
            )
            filler = pad if pad is not None else self._model.generation_config.eos_token_id
            for row, length in enumerate(batch["attention_mask"].sum(dim=1).tolist()):  # each output cut at its own source's bound
                output[row, 1 + self.options.decoding_limit(int(length)) :] = filler
        return output

    def _count(self, row: Any) -> int:
        """Target tokens produced: not the decoder's start token, padding or the end token."""
        config = self._model.generation_config
        special = {config.pad_token_id, config.eos_token_id, config.decoder_start_token_id}
        return sum(1 for token in row[1:].tolist() if token not in special)

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self._model = None
