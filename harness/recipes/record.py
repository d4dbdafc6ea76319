"""The JSON record a recipe writes beside its outputs: settings, inputs and outputs by sha256, tool versions."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.system.fingerprint import sha256_file

__all__ = ["inputs_record", "write_record"]


def write_record(
    path: Path, recipe: str, version: int, settings: Any, sources: dict[str, Path], built: dict[str, Path], versions: dict[str, str]
) -> None:
    """Write ``path``: what was built from what, with which settings and tools (sorted keys, so builds diff cleanly)."""
    record = {
        "recipe": recipe,
        "recipe_version": version,
        "settings": asdict(settings),
        "sources": {part: {"file": p.name, "sha256": sha256_file(p)} for part, p in sources.items()},
        "outputs": {part: {"file": p.name, "sha256": sha256_file(p), "size_bytes": p.stat().st_size} for part, p in built.items()},
        "versions": versions,
    }
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def inputs_record(version: int, settings: Any, sources: dict[str, Path], versions: dict[str, str]) -> dict[str, Any]:
    """What a build depends on (its cache key): recipe version, settings, source hashes (None: absent), tool versions."""
    return {
        "recipe_version": version,
        "settings": asdict(settings),
        "sources": {part: sha256_file(p) if p.is_file() else None for part, p in sources.items()},
        "versions": versions,
    }
