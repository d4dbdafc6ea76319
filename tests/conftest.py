"""Shared fixtures: experiment files written into tmp dirs, and the real-backend availability checks."""

from __future__ import annotations

import shutil
import signal
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _signal_handlers_restored(request: pytest.FixtureRequest):
    """A test that changes how this process handles SIGINT or SIGTERM gets them back as they were, and is named.

    Every subprocess started later inherits an ignored signal: a run started by a later test would then
    not stop on Ctrl-C (the hang of the Ctrl-C test in the full suite).
    """
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in before.items():
        if signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)
            warnings.warn(f"{request.node.nodeid} left {sig.name} changed; restored", stacklevel=1)


@pytest.fixture
def write_experiment(tmp_path: Path):
    """Write an experiment TOML text to a file and return its path."""

    def write(text: str, name: str = "exp.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None or not Path("/usr/share/apertium/modes/eng-spa.mode").is_file(),
    reason="Apertium eng-spa not installed (make setup installs it)",
)
