"""Shared fixtures: experiment files written into tmp dirs, and the real-backend availability checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
