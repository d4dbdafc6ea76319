"""Earlier versions of the project's own models, read back from git history instead of shipped twice.

A model that has been replaced in the tree stays reachable under its own manifest id: its files are the
blobs of the commit that shipped it (``git show COMMIT:PATH``), written into ``build/models/<id>/`` by
``arbench models build`` and checked against the sha256 the manifest pins, as any recipe's output. A clone
without that commit (a shallow one) skips the recipe with the reason; nothing else needs these models.

- ``nmt-en-es-v1-hf``: the first NMT model (4.0M parameters, Debian UI strings only), shipped in d3c1344.
- ``nmt-en-es-v1-ct2``: its CTranslate2 float32 conversion, made here from those weights as ``ct2`` makes
  the current one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from harness.errors import BackendUnavailable
from harness.models.recipes import ct2
from harness.paths import project_root

__all__ = ["NMT_V1", "build_nmt_v1_ct2", "build_nmt_v1_hf", "git_blob", "nmt_v1_ct2_key", "nmt_v1_hf_key"]

RECIPE_VERSION = 1
NMT_V1 = "d3c1344e9e2c10d2fda8621308e08a36bc32d560"  # the commit that shipped nmt-en-es v1
NMT_V1_FILES = (
    "model.safetensors", "config.json", "generation_config.json", "source.spm", "target.spm", "tokenizer_config.json", "vocab.json",
)  # fmt: skip
NMT_V1_HF = Path("build") / "models" / "nmt-en-es-v1" / "hf"


def git_blob(commit: str, path: str) -> bytes:
    """The bytes of ``path`` at ``commit`` in this project's git history; BackendUnavailable when the clone lacks them."""
    done = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=project_root(), capture_output=True, check=False)
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["git failed"]
        raise BackendUnavailable(
            f"{path} at commit {commit[:10]} is not in this clone ({why[0]}); a full clone (not --depth) has it: git fetch --unshallow"
        )
    return done.stdout


def build_nmt_v1_hf(out_dir: Path) -> dict[str, Path]:
    """Write the v1 Transformers files from git history into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in NMT_V1_FILES:
        (out_dir / name).write_bytes(git_blob(NMT_V1, f"models/nmt-en-es/hf/{name}"))
    return {name: out_dir / name for name in NMT_V1_FILES}


def nmt_v1_hf_key() -> dict[str, Any]:
    """What the v1 files depend on: the commit and the file names."""
    return {"recipe_version": RECIPE_VERSION, "commit": NMT_V1, "files": list(NMT_V1_FILES)}


def _v1_weights() -> Path:
    source = project_root() / NMT_V1_HF
    if not (source / "model.safetensors").is_file():
        raise BackendUnavailable(f"{source} is missing: the nmt-v1-hf recipe builds it first (arbench models build)")
    return source


def build_nmt_v1_ct2(out_dir: Path) -> dict[str, Path]:
    """Convert the v1 weights (build/models/nmt-en-es-v1/hf, from ``build_nmt_v1_hf``) as ``ct2`` converts the current ones."""
    return ct2.convert(_v1_weights(), out_dir)


def nmt_v1_ct2_key() -> dict[str, Any]:
    """What the v1 conversion depends on (``ct2.key``: the v1 files' sha256 and the converter's versions)."""
    return ct2.key(_v1_weights())
