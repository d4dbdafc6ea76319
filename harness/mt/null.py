"""An MT backend that does no model work: the target is the source (identity)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.trace import Tracer

__all__ = ["NullMt", "NullMtOptions"]


@dataclass(frozen=True)
class NullMtOptions:
    """No options; present so every backend is configured the same way."""


class NullMt:
    """Returns its input unchanged, so the harness's own overhead can be measured."""

    name = "null"

    def __init__(self, options: NullMtOptions, context: object = None) -> None:
        self.options = options

    def model_files(self) -> tuple[Path, ...]:
        return ()

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        return list(texts)

    def close(self) -> None:
        pass
