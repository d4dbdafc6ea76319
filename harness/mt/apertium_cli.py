"""Apertium as a script calls it: ``apertium eng-spa`` launched as a new process for every frame.

The MT half of the first pipeline a user writes (``harness.ocr.peer``): all of a frame's lines go to
one ``apertium`` call, one per input line, so a two-line sign is translated together ("Next" / "train"
→ "Tren" / "próximo"), and the ~12 programs of Apertium's pipeline start again for every frame. The
output has one line per input line; where Apertium moved text across lines, the whole answer goes to
the first line and the others stay empty (the frame's translation, read in order, is unchanged).
The run keeps arbench's own per-line or per-block split out of it: experiments/peer.toml sets
``[stages] mt_unit = "line"`` so this backend sees the lines as OCR returned them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.context import BackendContext
from harness.errors import BackendUnavailable
from harness.mt.apertium import ApertiumOptions, check_mode
from harness.trace import Tracer

__all__ = ["ApertiumCli", "ApertiumCliOptions", "preflight"]


@dataclass(frozen=True)
class ApertiumCliOptions:
    """``pair``: an installed mode ("eng-spa"); ``timeout_s``: longest wait for one frame's call."""

    pair: str = "eng-spa"
    timeout_s: float = 30.0


def preflight(options: ApertiumCliOptions, context: BackendContext) -> None:
    """Check before a run that ``apertium`` and the pair are installed."""
    if shutil.which("apertium") is None:
        raise BackendUnavailable("apertium-cli backend: `apertium` not found; run `apt-get install apertium apertium-eng-spa`")
    check_mode(ApertiumOptions(pair=options.pair))


class ApertiumCli:
    """One ``apertium -u PAIR`` process per call, all of the call's texts as its input lines."""

    name = "apertium-cli"

    def __init__(self, options: ApertiumCliOptions, context: BackendContext | None = None) -> None:
        self.options = options
        preflight(options, context or BackendContext())

    def model_files(self) -> tuple[Path, ...]:
        data = Path("/usr/share/apertium") / f"apertium-{self.options.pair}"
        return tuple(sorted(data.glob("*.bin")))

    def translate(self, texts: Sequence[str], tracer: Tracer | None = None) -> list[str]:
        """The texts as one input, one line each; the output's lines back as the targets (span "mt.translate")."""
        lines = [" ".join(t.split()) for t in texts]
        with (tracer or Tracer()).span("mt.translate") as attrs:
            start = time.perf_counter_ns()
            done = subprocess.run(
                ["apertium", "-u", self.options.pair], input="\n".join(lines).encode("utf-8"),
                capture_output=True, timeout=self.options.timeout_s, check=False,
            )  # fmt: skip
            attrs["model_ns"] = time.perf_counter_ns() - start
        if done.returncode != 0:
            raise RuntimeError(f"apertium exited with {done.returncode}: {done.stderr.decode('utf-8', 'replace').strip()[:200]}")
        out = [line.strip() for line in done.stdout.decode("utf-8").rstrip("\n").split("\n")]
        if len(out) == len(texts):
            return out
        return [" ".join(o for o in out if o), *([""] * (len(texts) - 1))]

    def close(self) -> None:
        """Nothing stays running between calls."""
