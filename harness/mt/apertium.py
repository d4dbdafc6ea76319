"""Apertium rule-based MT, kept running as one process for the whole run.

``apertium`` itself starts a pipeline of ~12 programs per call, far too slow per string. This backend
starts that pipeline once in null-flush mode (each stage flushes when it sees a NUL byte) and writes one
NUL-terminated string per region. ``lt-proc -b`` in lttoolbox 3.7 does not flush its stdio buffer on NUL,
so every stage runs under ``stdbuf -o0``. Deformatting mirrors ``apertium -f txt``: stream-format
characters are escaped and, as ``apertium-destxt`` does, a sentence-closing "." and an empty blank ("[]") are
appended and removed again from the output, so results equal the ``apertium`` command's.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.context import BackendContext
from harness.errors import BackendUnavailable
from harness.trace import Tracer

__all__ = ["Apertium", "ApertiumOptions"]

_SPECIAL = re.compile(r"([\[\]\^\$/\\@<>{}])")
_ESCAPED = re.compile(r"\\(.)")


@dataclass(frozen=True)
class ApertiumOptions:
    """Options for the Apertium backend.

    ``pair``: an installed mode such as "eng-spa" or "spa-eng"; ``mark_unknown``: keep the "*" that
    Apertium puts before words it does not know; ``timeout_s``: longest wait for one translation.
    """

    pair: str = "eng-spa"
    mark_unknown: bool = False
    modes_dir: str = "/usr/share/apertium/modes"
    timeout_s: float = 10.0


def preflight(options: ApertiumOptions, context: BackendContext) -> None:
    """Check before a run that the mode is installed (one line naming what to install otherwise)."""
    check_mode(options)


def check_mode(options: ApertiumOptions) -> None:
    """Raise BackendUnavailable unless the options' pair has an installed mode."""
    mode = Path(options.modes_dir) / f"{options.pair}.mode"
    if not mode.is_file():
        have = sorted(p.stem for p in mode.parent.glob("*.mode")) if mode.parent.is_dir() else []
        raise BackendUnavailable(
            f"apertium backend: no mode {options.pair!r} in {mode.parent} (installed: {', '.join(have) or 'none'});"
            " run `apt-get install apertium apertium-eng-spa`"
        )


class Apertium:
    """One long-lived Apertium pipeline; ``translate`` sends each string and reads its answer."""

    name = "apertium"

    def __init__(self, options: ApertiumOptions, context: object = None) -> None:
        self.options = options
        self._mode = Path(options.modes_dir) / f"{options.pair}.mode"
        self._process = self._start()

    def _pipeline(self) -> str:
        for tool in ("apertium-wblank-mode", "stdbuf", "lt-proc"):
            if shutil.which(tool) is None:
                raise BackendUnavailable(f"apertium backend: `{tool}` not found; run `apt-get install apertium apertium-eng-spa`")
        check_mode(self.options)
        text = subprocess.run(["apertium-wblank-mode", "-z", str(self._mode)], capture_output=True, text=True, check=True).stdout.strip()
        generation = "-g" if self.options.mark_unknown else "-n"
        text = text.replace("$1", generation).replace("$2", "")
        return " | ".join(f"stdbuf -o0 {stage.strip()}" for stage in text.split("|"))

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["bash", "-c", self._pipeline()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def model_files(self) -> tuple[Path, ...]:
        data = Path("/usr/share/apertium") / f"apertium-{self.options.pair}"
        if not data.is_dir():  # the reverse direction shares the pair's data folder
            data = Path("/usr/share/apertium") / ("apertium-" + "-".join(reversed(self.options.pair.split("-"))))
        return (self._mode, *sorted(data.glob("*.bin")))

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        """One target per source, each sent through the running pipeline (span "mt.translate": all of it is the model)."""
        with (tracer or Tracer()).span("mt.translate") as attrs:
            start = time.perf_counter_ns()
            targets = [self._one(t) for t in texts]
            attrs["model_ns"] = time.perf_counter_ns() - start
        return targets

    def _one(self, text: str) -> str:
        flat = " ".join(text.split())
        if not flat:
            return ""
        stream = _SPECIAL.sub(r"\\\1", flat) + ".[]"
        assert self._process.stdin is not None
        self._process.stdin.write(stream.encode("utf-8") + b"\0")
        self._process.stdin.flush()
        out = self._read_until_nul().removesuffix("[]").removesuffix(".")
        return _ESCAPED.sub(r"\1", out.replace("[]", "")).strip()

    def _read_until_nul(self) -> str:
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        chunks = b""
        while not chunks.endswith(b"\0"):
            ready, _, _ = select.select([fd], [], [], self.options.timeout_s)
            data = os.read(fd, 65536) if ready else b""
            if not data:
                self.close()
                raise RuntimeError(f"apertium pipeline gave no answer within {self.options.timeout_s} s (exited: {self._process.poll()})")
            chunks += data
        return chunks.rstrip(b"\0").decode("utf-8")

    def close(self) -> None:
        """Stop the whole pipeline: bash and every Apertium stage (they share one process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=5)
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
