"""The interface every machine-translation backend implements."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.errors import ConfigError
from harness.trace import Tracer

__all__ = ["MtBackend", "MtOptions"]


class MtBackend(Protocol):
    """Translates a batch of source strings (all regions of one frame) into target strings."""

    name: str

    def model_files(self) -> tuple[Path, ...]:
        """Files whose sha256 goes into the run manifest."""
        ...

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        """One target string per source string, same order.

        Backends that tokenize record "mt.tokenize", "mt.translate" (attrs ``tokens_in``, ``tokens_out``:
        one count per text) and "mt.detokenize" spans on ``tracer`` when one is given.
        """
        ...

    def close(self) -> None:
        """Stop helper processes, free sessions."""
        ...


@dataclass(frozen=True)
class MtOptions:
    """What the neural MT backends (CTranslate2 and its Transformers peer) share, named alike.

    ``model``: a manifest id or a model directory (relative paths: from the project root).
    ``compute_type``: the numeric type decoding runs in (each backend lists what it supports).
    ``device``: "cpu", "cuda" or "auto" (cuda when the device profile lists a CUDA provider and the runtime
    sees a GPU). ``intra_threads``: threads per translation, 0 = the device profile's threads.
    ``beam_size`` 1 is greedy decoding; ``min_decoding_length`` / ``max_decoding_length``: fewest / most
    target tokens per region (CTranslate2's defaults: no empty translations; 256). ``max_length_ratio``
    (default 3; 0: off): no output is longer than ``max_length_ratio`` × its source's tokens + 4 target
    tokens, so none runs on far past its input (the bound also caps ``min_decoding_length``). A batch
    decodes up to its longest source's bound and each output is then cut at its own: with greedy
    decoding exactly what a bound per source gives.
    ``repetition_penalty`` (1: none) and ``no_repeat_ngram_size`` (0: none) are the decoders' own
    repetition controls. ``batch`` off translates regions one call at a time (to measure what batching
    saves).
    """

    model: str = ""
    compute_type: str = "float32"
    device: str = "auto"
    intra_threads: int = 0
    beam_size: int = 1
    min_decoding_length: int = 1
    max_decoding_length: int = 256
    max_length_ratio: float = 3.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    batch: bool = True

    def __post_init__(self) -> None:
        if self.max_length_ratio < 0 or self.repetition_penalty <= 0 or self.no_repeat_ngram_size < 0:
            raise ConfigError(
                "mt: max_length_ratio must be 0 or more (0: off), repetition_penalty above 0 (1: off),"
                " no_repeat_ngram_size 0 or more (0: off)"
            )

    def decoding_limit(self, longest_source_tokens: int) -> int:
        """The most target tokens a batch whose longest source has this many tokens may produce."""
        if not self.max_length_ratio:
            return self.max_decoding_length
        return min(self.max_decoding_length, math.ceil(self.max_length_ratio * longest_source_tokens) + 4)

    def decoding_lengths(self, longest_source_tokens: int) -> tuple[int, int]:
        """(fewest, most) target tokens for such a batch: the bound wins over ``min_decoding_length``."""
        most = self.decoding_limit(longest_source_tokens)
        return min(self.min_decoding_length, most), most
