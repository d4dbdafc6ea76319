"""Tune here, test there: no recipe or tuning experiment reads a test split.

Settings are chosen on ``icdar2015_incidental_tune150`` and synthetic scenes; test splits are only read by
the experiments that report. The allowed exceptions are named with their reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

TEST_SPLITS = re.compile(
    r"icdar2015_incidental_test200|icdar2015_word_recognition_test|iiit5k_test|flores101_devtest|tatoeba_test|newstest2013|"
    r"\bDEFAULT_FOLDER\b"  # the IC15 source's default folder is the test split
)
ALLOWED = {
    "harness/models/recipes/nmt/decontam.py": "decontamination: names every test set so its lines leave the training data",
    "harness/models/recipes/nmt/evaluate.py": "reports the trained model's scores once, after training",
    "harness/models/recipes/nmt/card.py": "writes those reported scores into the model card",
}


def _tuning_files() -> list[Path]:
    recipes = sorted((REPO / "harness" / "models" / "recipes").rglob("*.py"))
    tuning = sorted((REPO / "experiments").glob("*tune*.toml"))
    return recipes + tuning


def test_no_recipe_or_tuning_experiment_names_a_test_split() -> None:
    offenders = []
    for path in _tuning_files():
        name = path.relative_to(REPO).as_posix()
        if name in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]  # a comment may say which split a number comes from
            if TEST_SPLITS.search(code):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "tuning code reads a test split:\n" + "\n".join(offenders)


def test_tuning_experiments_read_the_tuning_split() -> None:
    for path in sorted((REPO / "experiments").glob("*tune*.toml")):
        text = path.read_text(encoding="utf-8")
        if 'kind = "icdar2015"' in text:
            assert text.count('kind = "icdar2015"') == text.count('split = "icdar2015_incidental_tune150"'), path.name


def test_the_check_sees_a_test_split_named_in_code() -> None:
    assert TEST_SPLITS.search('root = data_root() / "icdar2015_incidental_test200"')
    assert not TEST_SPLITS.search('root = data_root() / "icdar2015_incidental_tune150"')
