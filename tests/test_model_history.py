"""Earlier model versions come back from git history under their own ids (harness/models/recipes/history.py)."""

from __future__ import annotations

import subprocess

import pytest

from harness.errors import BackendUnavailable
from harness.models.manifest import load_manifest
from harness.models.recipes.history import COMMITS, git_blob
from harness.models.verify import verify_model
from tests.conftest import REPO


def in_clone(commit: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO, capture_output=True, check=False).returncode == 0


def test_a_commit_this_clone_lacks_is_a_reason_not_a_crash() -> None:
    with pytest.raises(BackendUnavailable, match=r"not in this clone.*git fetch --unshallow"):
        git_blob("0" * 40, "models/nmt-en-es/hf/config.json")


@pytest.mark.parametrize("version", sorted(COMMITS))
def test_earlier_nmt_models_are_rebuilt_byte_for_byte_and_translate(version: str) -> None:
    if not in_clone(COMMITS[version]):
        pytest.skip(f"commit {COMMITS[version][:10]} is not in this clone (shallow)")
    pytest.importorskip("ctranslate2")
    from harness.context import BackendContext
    from harness.mt.ctranslate2 import CTranslate2Options
    from harness.testing.backends import open_backend

    entries = {entry.id: entry for entry in load_manifest()}
    for model_id in (f"nmt-en-es-{version}-hf", f"nmt-en-es-{version}-ct2"):
        verify_model(entries[model_id])  # make models (make test runs it) wrote them from history; pins hold
    mt = open_backend("mt", "ctranslate2", CTranslate2Options(model=f"nmt-en-es-{version}-ct2"), BackendContext(threads=1))
    try:
        [target] = mt.translate(["Open the file"])
    finally:
        mt.close()
    assert target.strip() and target != "Open the file"
