"""The interface every machine-translation backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from harness.trace import Tracer

__all__ = ["MtBackend"]


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
