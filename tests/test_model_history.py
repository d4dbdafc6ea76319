"""Earlier model versions come back from git history under their own ids (harness/models/recipes/history.py)."""

from __future__ import annotations

import subprocess

import pytest

from harness.errors import BackendUnavailable
from harness.models.manifest import load_manifest
from harness.models.recipes.history import NMT_V1, git_blob
from harness.models.verify import verify_model
from tests.conftest import REPO

in_clone = subprocess.run(["git", "cat-file", "-e", f"{NMT_V1}^{{commit}}"], cwd=REPO, capture_output=True, check=False).returncode == 0


def test_a_commit_this_clone_lacks_is_a_reason_not_a_crash() -> None:
    with pytest.raises(BackendUnavailable, match=r"not in this clone.*git fetch --unshallow"):
        git_blob("0" * 40, "models/nmt-en-es/hf/config.json")


@pytest.mark.skipif(not in_clone, reason=f"commit {NMT_V1[:10]} is not in this clone (shallow)")
def test_the_first_nmt_model_is_rebuilt_byte_for_byte_and_translates() -> None:
    pytest.importorskip("ctranslate2")
    from harness.context import BackendContext
    from harness.mt.ctranslate2 import CTranslate2Options
    from harness.testing.backends import open_backend

    entries = {entry.id: entry for entry in load_manifest()}
    for model_id in ("nmt-en-es-v1-hf", "nmt-en-es-v1-ct2"):
        verify_model(entries[model_id])  # make models (make test runs it) wrote them from history; pins hold
    mt = open_backend("mt", "ctranslate2", CTranslate2Options(model="nmt-en-es-v1-ct2"), BackendContext(threads=1))
    try:
        [target] = mt.translate(["Open the file"])
    finally:
        mt.close()
    assert target.strip() and target != "Open the file"
