"""Earlier versions of the project's own models, read back from git history instead of shipped twice.

A model that has been replaced in the tree stays reachable under its own manifest id: its files are the
blobs of the commit that shipped it (``git show COMMIT:PATH``), written into ``build/models/<id>/`` by
``arbench models build`` and checked against the sha256 the manifest pins, as any recipe's output. A clone
without that commit (a shallow one) skips the recipe with the reason; nothing else needs these models.

- ``nmt-en-es-v1-hf``: the first NMT model (4.0M parameters, Debian UI strings only), shipped in d3c1344.
- ``nmt-en-es-v1-ct2``: its CTranslate2 float32 conversion, made here from those weights as ``ct2`` makes
  the current one.
- ``nmt-en-es-v2-hf`` and ``nmt-en-es-v2-ct2``: the second (7.4M parameters, one training stage on Debian's
  catalogs and Apertium-distilled pairs), shipped in a7d01f2.
- ``nmt-en-es-v3-hf`` and ``nmt-en-es-v3-ct2``: the third (v2 trained on in a second stage, 2,000 steps of an
  everyday-weighted mix), shipped in 8b3dcfd.
- ``nmt-en-es-v4-hf`` and ``nmt-en-es-v4-ct2``: the fourth (the same second stage at step 5,250), shipped in eab2e28.
- ``nmt-en-es-v5-hf`` and ``nmt-en-es-v5-ct2``: the fifth (v4 trained on 2,750 steps of the same mix), shipped in dd73094.
- ``nmt-en-es-v6-hf`` and ``nmt-en-es-v6-ct2``: the sixth (v5 trained on 3,000 steps with sign-like phrases added), shipped in
  aad1dbd.
- ``nmt-en-es-v7-hf`` and ``nmt-en-es-v7-ct2``: the seventh (v6 trained on 2,750 steps with notice-like phrases added),
  shipped in 318deda.
"""

from __future__ import annotations

import subprocess
from functools import partial
from pathlib import Path
from typing import Any

from harness.errors import BackendUnavailable
from harness.models.recipes import ct2
from harness.paths import project_root

__all__ = [
    "NMT_V1", "NMT_V2", "NMT_V3", "NMT_V4", "NMT_V5", "NMT_V6", "NMT_V7", "build_nmt_v1_ct2", "build_nmt_v1_hf", "build_nmt_v2_ct2",
    "build_nmt_v2_hf", "build_nmt_v3_ct2", "build_nmt_v3_hf", "build_nmt_v4_ct2", "build_nmt_v4_hf", "build_nmt_v5_ct2",
    "build_nmt_v5_hf", "build_nmt_v6_ct2", "build_nmt_v6_hf", "build_nmt_v7_ct2",
    "build_nmt_v7_hf", "git_blob", "nmt_v1_ct2_key", "nmt_v1_hf_key", "nmt_v2_ct2_key",
    "nmt_v2_hf_key", "nmt_v3_ct2_key", "nmt_v3_hf_key", "nmt_v4_ct2_key", "nmt_v4_hf_key", "nmt_v5_ct2_key", "nmt_v5_hf_key",
    "nmt_v6_ct2_key", "nmt_v6_hf_key", "nmt_v7_ct2_key", "nmt_v7_hf_key",
]  # fmt: skip

RECIPE_VERSION = 1
NMT_V1 = "d3c1344e9e2c10d2fda8621308e08a36bc32d560"  # the commit that shipped nmt-en-es v1
NMT_V2 = "a7d01f2da21cdfae200af91ab0d730ec034b0116"  # the commit that shipped nmt-en-es v2
NMT_V3 = "8b3dcfd843a5787d6dd9b11851ca3f6bd9d5d387"  # the commit that shipped nmt-en-es v3
NMT_V4 = "eab2e2872e69c79a964851b2e6333d530a16703f"  # the commit that shipped nmt-en-es v4
NMT_V5 = "dd73094977e11454bfb8b633c2e717f6d10a15c4"  # the commit that shipped nmt-en-es v5
NMT_V6 = "aad1dbd174ec1c5397e0e6e6d18509a4e670c970"  # the commit that shipped nmt-en-es v6
NMT_V7 = "318deda7afd6d5b5efb3b70879d330d8427581cd"  # the commit that shipped nmt-en-es v7
COMMITS = {"v1": NMT_V1, "v2": NMT_V2, "v3": NMT_V3, "v4": NMT_V4, "v5": NMT_V5, "v6": NMT_V6, "v7": NMT_V7}
NMT_FILES = (
    "model.safetensors", "config.json", "generation_config.json", "source.spm", "target.spm", "tokenizer_config.json", "vocab.json",
)  # fmt: skip


def git_blob(commit: str, path: str) -> bytes:
    """The bytes of ``path`` at ``commit`` in this project's git history; BackendUnavailable when the clone lacks them."""
    done = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=project_root(), capture_output=True, check=False)
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["git failed"]
        raise BackendUnavailable(
            f"{path} at commit {commit[:10]} is not in this clone ({why[0]}); a full clone (not --depth) has it: git fetch --unshallow"
        )
    return done.stdout


def _hf_dir(version: str) -> Path:
    return Path("build") / "models" / f"nmt-en-es-{version}" / "hf"


def build_nmt_hf(version: str, out_dir: Path) -> dict[str, Path]:
    """Write an earlier version's Transformers files from git history into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in NMT_FILES:
        (out_dir / name).write_bytes(git_blob(COMMITS[version], f"models/nmt-en-es/hf/{name}"))
    return {name: out_dir / name for name in NMT_FILES}


def nmt_hf_key(version: str) -> dict[str, Any]:
    """What an earlier version's files depend on: the commit and the file names."""
    return {"recipe_version": RECIPE_VERSION, "commit": COMMITS[version], "files": list(NMT_FILES)}


def _weights(version: str) -> Path:
    source = project_root() / _hf_dir(version)
    if not (source / "model.safetensors").is_file():
        raise BackendUnavailable(f"{source} is missing: the nmt-{version}-hf recipe builds it first (arbench models build)")
    return source


def build_nmt_ct2(version: str, out_dir: Path) -> dict[str, Path]:
    """Convert an earlier version's weights (build/models/nmt-en-es-VERSION/hf) as ``ct2`` converts the current ones."""
    return ct2.convert(_weights(version), out_dir)


def nmt_ct2_key(version: str) -> dict[str, Any]:
    """What an earlier version's conversion depends on (``ct2.key``: its files' sha256 and the converter's versions)."""
    return ct2.key(_weights(version))


# The recipes' entry points (harness.models.recipes.build names them "module:function").
build_nmt_v1_hf, nmt_v1_hf_key = partial(build_nmt_hf, "v1"), partial(nmt_hf_key, "v1")
build_nmt_v1_ct2, nmt_v1_ct2_key = partial(build_nmt_ct2, "v1"), partial(nmt_ct2_key, "v1")
build_nmt_v2_hf, nmt_v2_hf_key = partial(build_nmt_hf, "v2"), partial(nmt_hf_key, "v2")
build_nmt_v2_ct2, nmt_v2_ct2_key = partial(build_nmt_ct2, "v2"), partial(nmt_ct2_key, "v2")
build_nmt_v3_hf, nmt_v3_hf_key = partial(build_nmt_hf, "v3"), partial(nmt_hf_key, "v3")
build_nmt_v3_ct2, nmt_v3_ct2_key = partial(build_nmt_ct2, "v3"), partial(nmt_ct2_key, "v3")
build_nmt_v4_hf, nmt_v4_hf_key = partial(build_nmt_hf, "v4"), partial(nmt_hf_key, "v4")
build_nmt_v4_ct2, nmt_v4_ct2_key = partial(build_nmt_ct2, "v4"), partial(nmt_ct2_key, "v4")
build_nmt_v5_hf, nmt_v5_hf_key = partial(build_nmt_hf, "v5"), partial(nmt_hf_key, "v5")
build_nmt_v5_ct2, nmt_v5_ct2_key = partial(build_nmt_ct2, "v5"), partial(nmt_ct2_key, "v5")
build_nmt_v6_hf, nmt_v6_hf_key = partial(build_nmt_hf, "v6"), partial(nmt_hf_key, "v6")
build_nmt_v6_ct2, nmt_v6_ct2_key = partial(build_nmt_ct2, "v6"), partial(nmt_ct2_key, "v6")
build_nmt_v7_hf, nmt_v7_hf_key = partial(build_nmt_hf, "v7"), partial(nmt_hf_key, "v7")
build_nmt_v7_ct2, nmt_v7_ct2_key = partial(build_nmt_ct2, "v7"), partial(nmt_ct2_key, "v7")
