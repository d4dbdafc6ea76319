"""The JSON record a recipe writes beside its outputs: settings, inputs and outputs by sha256, tool versions, machine."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.system.fingerprint import sha256_file

__all__ = ["add_reproduction", "build_environment", "inputs_record", "known_hashes", "reproduces_here", "write_record"]


def build_environment(packages: Iterable[str], files: Iterable[Path] = ()) -> dict[str, Any]:
    """What a build's bytes depend on besides its settings and sources: the CPU's instruction set, library versions, data files.

    Kernels differ by instruction set and by library release, and their float rounding moves calibration
    ranges, so two machines that differ here may build different bytes from the same recipe.
    """
    from harness.system.cpu import capture_cpu
    from harness.system.software import package_versions

    cpu = capture_cpu()
    return {
        "machine": platform.machine(),
        "cpu_vendor": cpu["vendor"],
        "cpu_model": cpu["model"],
        "isa": cpu["isa"],
        "simd_features": cpu["simd_features"],
        "versions": package_versions(tuple(packages)),
        "files": {path.name: sha256_file(path) for path in files if path.is_file()},
    }


def reproduces_here(recorded: Mapping[str, Any] | None, here: Mapping[str, Any]) -> str | None:
    """None when this machine's ``build_environment`` equals the recorded one (the build should give the same bytes), else why not.

    The CPU model is informative only: machines of one instruction set and the same libraries are expected to agree.
    """
    if not recorded:
        return "the record does not say which machine and library versions built the shipped bytes"
    for key in ("machine", "isa", "simd_features", "versions", "files"):
        if recorded.get(key) != here.get(key):
            return f"{key} differs: built with {recorded.get(key)!r}, here {here.get(key)!r}"
    return None


def write_record(
    path: Path,
    recipe: str,
    version: int,
    settings: Any,
    sources: dict[str, Path],
    built: dict[str, Path],
    versions: dict[str, str],
    built_on: dict[str, Any] | None = None,
) -> None:
    """Write ``path``: what was built from what, with which settings, tools and machine (sorted keys, so builds diff cleanly)."""
    record = {
        "recipe": recipe,
        "recipe_version": version,
        "settings": asdict(settings),
        "sources": {part: {"file": p.name, "sha256": sha256_file(p)} for part, p in sources.items()},
        "outputs": {part: {"file": p.name, "sha256": sha256_file(p), "size_bytes": p.stat().st_size} for part, p in built.items()},
        "versions": versions,
        "built_on": built_on,
        "reproductions": [_reproduction(built_on, built)] if built_on else [],
    }
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def inputs_record(version: int, settings: Any, sources: dict[str, Path], versions: Mapping[str, Any]) -> dict[str, Any]:
    """What a build depends on (its cache key): recipe version, settings, source hashes (None: absent), tool versions."""
    return {
        "recipe_version": version,
        "settings": asdict(settings),
        "sources": {part: sha256_file(p) if p.is_file() else None for part, p in sources.items()},
        "versions": versions,
    }


def _reproduction(built_on: Mapping[str, Any], built: Mapping[str, Path]) -> dict[str, Any]:
    return {"built_on": dict(built_on), "sha256": {part: sha256_file(p) for part, p in sorted(built.items())}}


def known_hashes(record: Mapping[str, Any], here: Mapping[str, Any]) -> dict[str, str] | None:
    """The output hashes a build on a machine like ``here`` gives, by part, where the record knows them; else None.

    ``reproductions`` holds one entry per machine (instruction set, library versions, fonts) a build was
    recorded on; a record written before them knows only its own ``built_on``.
    """
    entries = record.get("reproductions") or (
        [{"built_on": record["built_on"], "sha256": {k: v["sha256"] for k, v in record["outputs"].items()}}]
        if record.get("built_on")
        else []
    )
    for entry in entries:
        if reproduces_here(entry.get("built_on"), here) is None:
            return dict(entry["sha256"])
    return None


def add_reproduction(path: Path, built_on: Mapping[str, Any], built: Mapping[str, Path]) -> bool:
    """Record in the record at ``path`` what a build on ``built_on`` gave; False when that machine is already recorded."""
    record = json.loads(path.read_text(encoding="utf-8"))
    if known_hashes(record, built_on) is not None:
        return False
    record.setdefault("reproductions", []).append(_reproduction(built_on, built))
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return True
