"""The interface every machine-translation backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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
    target tokens per region (CTranslate2's defaults: no empty translations; 256). ``batch`` off translates
    regions one call at a time (to measure what batching saves).
    """

    model: str = ""
    compute_type: str = "float32"
    device: str = "auto"
    intra_threads: int = 0
    beam_size: int = 1
    min_decoding_length: int = 1
    max_decoding_length: int = 256
    batch: bool = True

