"""Crash-safe writing of a run directory.

frames.jsonl is only ever appended to, one complete line per frame, flushed as soon as the frame is
done (optionally fsynced), so a run killed at any moment keeps every completed frame; a line the disk
has no room for is cut off again, so a full disk leaves no torn record either. The manifest is replaced
atomically (write to a temporary file, then rename), so it is always a whole JSON document, and a
temporary file that could not be completed is removed. ``SpaceReserve`` holds back a little disk space
from the start of a run, given back before the run's last summary and manifest are written, so that a
disk filled by frames still leaves room to close the run properly.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from harness.store.schema import FRAMES

__all__ = ["FrameWriter", "SpaceReserve", "new_run_id", "write_json_atomic", "write_text_atomic"]

RESERVE_BYTES = 512 * 1024  # the final manifest and summary of a large run fit in this


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus four random hex digits."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Replace ``path`` with ``document`` so readers never see half a file."""
    write_text_atomic(path, json.dumps(document, indent=2, sort_keys=False, allow_nan=False, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (fsynced, then renamed); on failure the old file stays and no temporary is left."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class SpaceReserve:
    """A file of ``RESERVE_BYTES`` in the run directory, released before the run's closing writes."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / ".space-reserve"
        try:
            with self.path.open("wb") as handle:
                handle.write(b"\0" * RESERVE_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:  # the disk is already that full: no reserve, the run goes on
            self.path.unlink(missing_ok=True)

    def release(self) -> None:
        """Give the space back (idempotent)."""
        self.path.unlink(missing_ok=True)


class FrameWriter:
    """Appends frame records to frames.jsonl, one flushed line each."""

    def __init__(self, run_dir: Path, fsync: bool = False) -> None:
        self.path = run_dir / FRAMES
        self.fsync = fsync
        self._handle: IO[bytes] = self.path.open("ab", buffering=0)  # unbuffered: a line is written whole or cut off
        if self.path.stat().st_size and not _ends_with_newline(self.path):
            self._handle.write(b"\n")  # a writer killed mid-line left a torn record: keep it apart from ours
        self._size = self.path.stat().st_size  # where the next line starts (kept here, not asked of the OS per frame)

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as a single line and push it to the OS; a line that does not fit is cut off again (OSError)."""
        line = memoryview((json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8"))
        fd, size = self._handle.fileno(), len(line)
        try:
            while line:
                written = self._handle.write(line) or 0
                if not written:
                    raise OSError(errno.ENOSPC, "no bytes written")
                line = line[written:]
            if self.fsync:
                os.fsync(fd)
        except OSError:
            os.ftruncate(fd, self._size)  # a full disk wrote part of the line: the file ends with whole records again
            raise
        self._size += size

    def close(self) -> None:
        """Close the file (what cannot be flushed any more was already cut off)."""
        with contextlib.suppress(OSError):
            self._handle.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
