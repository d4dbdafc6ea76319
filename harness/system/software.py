"""Versions of the interpreter, Python packages, external binaries and the harness's own git state.

These describe the running process, not ``root``. Every subprocess has a timeout and none raises: a
missing package or binary is ``None``.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

__all__ = [
    "BINARIES",
    "PACKAGES",
    "SOURCE_STAMP",
    "GitState",
    "binary_versions",
    "git_state",
    "harness_repo_dir",
    "package_versions",
    "python_info",
]

PACKAGES: tuple[str, ...] = (
    "numpy",
    "opencv-python",
    "opencv-python-headless",
    "pillow",
    "onnxruntime",
    "rapidocr-onnxruntime",
    "pandas",
    "ctranslate2",
    "sentencepiece",
    "ai-edge-litert",
    "tflite-runtime",
    "tesserocr",
    "pytesseract",
    "arbench",
)

# name in the result -> command whose first output line carries the version.
# ``apertium -V`` exists since Apertium 3.6; lt-proc's version is lttoolbox's, which Apertium runs on.
BINARIES: dict[str, tuple[str, ...]] = {
    "apertium": ("apertium", "-V"),
    "lttoolbox": ("lt-proc", "--version"),
    "tesseract": ("tesseract", "--version"),
}

SUBPROCESS_TIMEOUT_S = 5.0
# A source tree that a fleet unpacked from ``git archive`` has no .git: this file beside ``harness/`` names its commit.
SOURCE_STAMP = ".arbench-source.json"


class GitState(TypedDict):
    """``commit``: HEAD's full hash; ``dirty``: uncommitted or untracked changes. ``None`` if unknown."""

    commit: str | None
    dirty: bool | None


def python_info() -> dict[str, str]:
    """Version, implementation and path of the running interpreter."""
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except Exception:  # noqa: BLE001 - not installed, or metadata so broken that no version can be read
        return None


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed distribution version for each name (case and ``-``/``_`` insensitive); ``None`` if absent."""
    return {name: _version(name) for name in names}


def _run(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str] | None:
    """The finished process, or ``None`` if it could not start or ran past ``timeout_s``."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, errors="replace", timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _first_line(argv: Sequence[str], timeout_s: float) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    done = _run(argv, timeout_s)
    if done is None or done.returncode != 0:
        return None
    # tesseract before 4.0 printed its version on stderr
    lines = [line.strip() for line in (done.stdout or done.stderr).splitlines() if line.strip()]
    return lines[0] if lines else None


def binary_versions(timeout_s: float = SUBPROCESS_TIMEOUT_S) -> dict[str, str | None]:
    """First line of each binary's version output (``Apertium 3.8.3``, ``tesseract 5.3.0``).

    ``None`` where the binary is not on PATH, fails, or runs past ``timeout_s``.
    """
    return {name: _first_line(argv, timeout_s) for name, argv in BINARIES.items()}


def harness_repo_dir() -> Path:
    """The directory above the ``harness`` package: the checkout when installed editable."""
    return Path(__file__).resolve().parents[2]


def git_state(repo_dir: Path, timeout_s: float = SUBPROCESS_TIMEOUT_S) -> GitState:
    """HEAD and dirtiness of the work tree at ``repo_dir``; ``None`` where git is absent or it is no repo.

    A repository without commits has ``commit`` ``None`` but a known ``dirty``. A tree a fleet unpacked from an
    archive (no .git, a ``SOURCE_STAMP`` file) has its archive's commit and an unknown ``dirty``.
    """
    stamp = repo_dir / SOURCE_STAMP
    if not (repo_dir / ".git").exists() and stamp.is_file():
        return _stamped_state(stamp)
    if shutil.which("git") is None:
        return GitState(commit=None, dirty=None)
    head = _run(["git", "-C", str(repo_dir), "rev-parse", "--verify", "-q", "HEAD"], timeout_s)
    status = _run(["git", "-C", str(repo_dir), "status", "--porcelain"], timeout_s)
    commit = head.stdout.strip() if head is not None and head.returncode == 0 else ""
    dirty = bool(status.stdout.strip()) if status is not None and status.returncode == 0 else None
    return GitState(commit=commit or None, dirty=dirty)


def _stamped_state(stamp: Path) -> GitState:
    """The commit a fleet archive was made from; whether its files changed since is unknown (``dirty`` ``None``)."""
    try:
        commit = json.loads(stamp.read_text(encoding="utf-8")).get("commit")
    except (OSError, ValueError):
        commit = None
    return GitState(commit=str(commit) if commit else None, dirty=None)
