"""Backends for tests: real ones opened outside a run, and null ones that fail, hang or flap on cue.

``open_backend`` creates a registered backend as a run would, its models resolved and verified first.
``FaultyOcr`` and ``FaultyMt`` are the null backends with a fault after ``good`` calls: "fail" (every
later call raises), "hang" (every later call sleeps ``hang_s``), "flap" (later calls fail and succeed in
turn). They are not registered; a test adds them for its own duration::

    monkeypatch.setitem(PLUGINS["mt"], "faulty", FAULTY_MT)

and sets the fault in the experiment (``[[mt]] backend = "faulty" good = 3 fault = "hang"``). Calls are
counted per backend instance, so an isolated worker counts its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.context import BackendContext
from harness.errors import ConfigError
from harness.models.resolve import with_models
from harness.mt.null import NullMt
from harness.ocr.null import NullOcr, NullOcrOptions
from harness.registry import Plugin, plugin
from harness.trace import Tracer
from harness.types import Frame, TextRegion

__all__ = ["FAULTY_MT", "FAULTY_OCR", "FaultyMt", "FaultyMtOptions", "FaultyOcr", "FaultyOcrOptions", "open_backend"]

FAULTS = ("fail", "hang", "flap")


def open_backend(kind: str, backend: str, options: Any, context: BackendContext | None = None) -> Any:
    """The ``backend`` plugin of ``kind`` with ``options``, created as a run creates it (models resolved first)."""
    return plugin(kind, backend, f"{kind} {backend}").create(options, with_models(kind, backend, options, context))


@dataclass(frozen=True)
class FaultyMtOptions:
    """``good`` calls answer, then ``fault``: "fail" (raise ``message``), "hang" (sleep ``hang_s``) or "flap" (fail, answer, ...)."""

    good: int = 0
    fault: str = "fail"
    message: str = "out of memory"
    hang_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.fault not in FAULTS or self.good < 0:
            raise ConfigError(f"faulty backend: fault must be one of {', '.join(FAULTS)} and good >= 0")


@dataclass(frozen=True)
class FaultyOcrOptions(FaultyMtOptions, NullOcrOptions):
    """The faulty MT's options, and the null OCR's (``echo_ground_truth``)."""


class _Faults:
    """Counts calls and plays the fault; ``options`` as ``FaultyMtOptions``."""

    options: FaultyMtOptions
    calls = 0

    def _call(self) -> None:
        self.calls += 1
        late = self.calls - self.options.good
        if late <= 0 or (self.options.fault == "flap" and late % 2 == 0):
            return
        if self.options.fault == "hang":
            time.sleep(self.options.hang_s)
            return
        raise RuntimeError(self.options.message)


class FaultyMt(_Faults, NullMt):
    """The identity translator with a fault."""

    name = "faulty"

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        self._call()
        return list(texts)


class FaultyOcr(_Faults, NullOcr):
    """The ground-truth reader with a fault."""

    name = "faulty"

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        self._call()
        return super().recognize(frame, tracer)


FAULTY_MT = Plugin("harness.testing.backends", "FaultyMtOptions", "FaultyMt")
FAULTY_OCR = Plugin("harness.testing.backends", "FaultyOcrOptions", "FaultyOcr")
