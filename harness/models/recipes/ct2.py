"""The project's NMT model in CTranslate2's format, converted from the one shipped copy of its weights.

The weights ship once, as the Transformers model in models/nmt-en-es/hf (what training writes and the
Transformers peer loads). ``arbench models build`` (``make models``) converts them to float32 CTranslate2
in a few seconds; CTranslate2 quantizes at load time (``compute_type``), so one float32 conversion serves
every compute type. Converting copies the float32 tensors unchanged (the attention projections are
concatenated), so the output's sha256 is pinned in models/manifest.toml like a shipped file's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.paths import project_root
from harness.system.fingerprint import cached_sha256

__all__ = ["HF_DIR", "build_default", "convert", "inputs_key", "key"]

RECIPE_VERSION = 1
HF_DIR = Path("models") / "nmt-en-es" / "hf"
PACKAGES = ("ctranslate2", "transformers", "torch")


def build_default(out_dir: Path) -> dict[str, Path]:
    """Convert the shipped Transformers NMT model into ``out_dir`` (float32), with its ``convert.json`` record."""
    return convert(project_root() / HF_DIR, out_dir)


def inputs_key() -> dict[str, Any]:
    """What the conversion of the shipped model depends on (``key``)."""
    return key(project_root() / HF_DIR)


def convert(source: Path, out_dir: Path) -> dict[str, Path]:
    """Convert the Transformers model in ``source`` into ``out_dir`` (float32), with its ``convert.json`` record."""
    from harness.models.fetch import convert_marian

    out = convert_marian(source, Path(out_dir), "float32")
    return {path.name: path for path in sorted(out.iterdir()) if path.is_file()}


def key(source: Path) -> dict[str, Any]:
    """What converting ``source`` depends on: recipe version, the source files' sha256 and the converter's versions."""
    from harness.models.fetch import versions

    files = sorted(p for p in source.iterdir() if p.is_file())
    return {
        "recipe_version": RECIPE_VERSION,
        "sources": {p.name: cached_sha256(p) for p in files},  # verify_model hashed them just before
        "versions": {k: v for k, v in versions().items() if k in PACKAGES},
    }
