"""Crash-safe writing of a run directory.

frames.jsonl is only ever appended to, one complete line per frame, flushed as soon as the frame is
done (optionally fsynced), so a run killed at any moment keeps every completed frame. The manifest is
replaced atomically (write to a temporary file, then rename), so it is always a whole JSON document.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from harness.store.schema import FRAMES

__all__ = ["FrameWriter", "new_run_id", "write_json_atomic"]


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus four random hex digits."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Replace ``path`` with ``document`` so readers never see half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=False, allow_nan=False, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class FrameWriter:
    """Appends frame records to frames.jsonl, one flushed line each."""

    def __init__(self, run_dir: Path, fsync: bool = False) -> None:
        self.path = run_dir / FRAMES
        self.fsync = fsync
        self._handle: IO[str] = self.path.open("a", encoding="utf-8")
        if self.path.stat().st_size and not _ends_with_newline(self.path):
            self._handle.write("\n")  # a writer killed mid-line left a torn record: keep it apart from ours

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as a single line and push it to the OS."""
        self._handle.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
