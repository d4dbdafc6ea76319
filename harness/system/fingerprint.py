"""Size and SHA-256 of model files, so a result names the exact weights it measured.

Hashes are cached per process by (resolved path, size, mtime_ns): repeated runs over the same models do
not rehash hundreds of megabytes, and a rewritten file (new mtime or size) is hashed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict

__all__ = ["ModelFile", "cached_sha256", "fingerprint_models", "sha256_file"]

CHUNK_BYTES = 1 << 20

_cache: dict[tuple[str, int, int, int], str] = {}


class ModelFile(TypedDict):
    """``path`` as given; ``size_bytes`` and ``sha256`` (hex) are ``None`` if the file is unreadable."""

    path: str
    size_bytes: int | None
    sha256: str | None


def sha256_file(path: Path, chunk_bytes: int = CHUNK_BYTES) -> str:
    """Hex SHA-256 of the file, read in ``chunk_bytes`` pieces; uncached, raises ``OSError``."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def cached_sha256(path: Path) -> str:
    """``sha256_file``, once per process for a file of this path, size and mtime; raises ``OSError``.

    Preflight hashes each model here; a run's manifest then takes the same hashes without reading the
    files again, and forked workers inherit them.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        _cache[key] = sha256_file(path)
    return _cache[key]


def _fingerprint(path: Path) -> ModelFile:
    """Raises ``OSError``; the caller turns it into a reason."""
    return ModelFile(path=str(path), size_bytes=path.stat().st_size, sha256=cached_sha256(path))


def fingerprint_models(paths: Iterable[Path]) -> tuple[list[ModelFile], list[str]]:
    """One entry per path, in order, and a reason for each file that could not be read."""
    models: list[ModelFile] = []
    reasons: list[str] = []
    for path in map(Path, paths):
        try:
            models.append(_fingerprint(path))
        except OSError as exc:
            models.append(ModelFile(path=str(path), size_bytes=None, sha256=None))
            reasons.append(f"model {path}: {exc.strerror or exc}")
    return models, reasons
