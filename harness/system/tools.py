"""Board tools (vcgencmd, tegrastats, nvpmodel, jetson_clocks) found under a root and run with a timeout.

Under a fake root only the fake's own executables are used (``<root>/usr/bin/vcgencmd`` prints captured
output), never the host's; under ``/`` the PATH is searched too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from harness.system.files import is_file, under

__all__ = ["find_tool", "run_tool"]

SEARCH = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin")


def find_tool(root: Path, name: str) -> str | None:
    """The executable ``name`` under ``root`` (or on PATH when ``root`` is ``/``), or ``None``."""
    for folder in SEARCH:
        path = under(root, f"{folder}/{name}")
        if is_file(path) and os.access(path, os.X_OK):
            return str(path)
    return shutil.which(name) if Path(root).resolve() == Path("/") else None


def run_tool(argv: Sequence[str], timeout_s: float = 5.0) -> tuple[str | None, str | None]:
    """(stdout, None) when the command succeeded, else (None, why); NUL bytes become newlines."""
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{argv[0]}: {exc}"
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return None, f"{' '.join(argv)} exited {done.returncode}: {err[-1] if err else ''}".rstrip(": ")
    return done.stdout.decode(errors="replace").replace("\x00", "\n"), None
