"""The sign-like and notice-like phrases of the NMT recipe (signs.py, notices.py), on WordNet files written in WordNet 3.0's own formats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.models.recipes.nmt.distill import SOURCES, case_variants
from harness.models.recipes.nmt.notices import TEMPLATES as NOTICE_TEMPLATES
from harness.models.recipes.nmt.notices import notice_inputs
from harness.models.recipes.nmt.signs import DISTANCES, TEMPLATES, sign_inputs, sign_nouns

LICENCE_LINE = "  1 This software and database is being provided to you, the LICENSEE, by  "
ROOTS = (("building", 1), ("dish", 2))
KNOWN = {"building", "restaurant", "eating house", "cafe", "coffee shop", "snack bar", "dish", "pizza", "bowl",
         "Welsh rarebit", "all night diner", "Taj Mahal"}  # fmt: skip


@pytest.fixture()
def wordnet(tmp_path: Path) -> Path:
    """index.noun (lemma → synsets in sense order) and data.noun (synsets with hyponym and instance pointers)."""
    (tmp_path / "index.noun").write_text("\n".join([
        LICENCE_LINE,
        "building n 1 2 @ ~ 1 1 02913152  ",
        "dish n 2 3 @ ~ %p 2 1 03206908 07557434  ",
    ]) + "\n")  # fmt: skip
    (tmp_path / "data.noun").write_text("\n".join([
        LICENCE_LINE,
        "02913152 06 n 01 building 0 003 @ 04341686 n 0000 ~ 03000001 n 0000 ~i 03000002 n 0000 | a structure that has a roof and walls  ",
        "03000001 06 n 02 restaurant 0 eating_house 0 002 @ 02913152 n 0000 ~ 03000003 n 0000 | a building where people eat  ",
        "03000002 06 n 01 Taj_Mahal 0 001 @i 02913152 n 0000 | a mausoleum  ",
        "03000003 06 n 02 cafe 0 coffee_shop 0 002 @ 03000001 n 0000 ~ 03000004 n 0000 | a small restaurant  ",
        "03000004 06 n 02 snack_bar 0 all_night_diner 0 001 @ 03000003 n 0000 | a counter where snacks are sold  ",
        "03206908 06 n 01 dish 0 001 ~ 03206909 n 0000 | a piece of dishware  ",
        "03206909 06 n 01 bowl 0 001 @ 03206908 n 0000 | a round vessel  ",
        "07557434 13 n 01 dish 0 003 @ 07555863 n 0000 ~ 07600001 n 0000 ~ 07600002 n 0000 | a particular item of prepared food  ",
        "07600001 13 n 01 pizza 0 001 @ 07557434 n 0000 | Italian open pie  ",
        "07600002 13 n 02 Welsh_rarebit 0 zebra_cake 0 001 @ 07557434 n 0000 | cheese on toast  ",
    ]) + "\n")  # fmt: skip
    (tmp_path / "verb.exc").write_text("ate eat\n")
    (tmp_path / "noun.exc").write_text("cafes cafe\n")
    return tmp_path


def test_sign_nouns_are_the_roots_and_their_hyponyms_that_the_dictionary_holds(wordnet: Path) -> None:
    nouns = sign_nouns(wordnet, KNOWN, ROOTS)
    # grandchildren too; the dish of food (sense 2), not the dishware (sense 1) or its bowl; no instances (Taj Mahal),
    # no proper nouns (Welsh rarebit), nothing longer than two words, nothing Apertium lacks (zebra cake)
    assert nouns == ["building", "restaurant", "eating house", "cafe", "coffee shop", "snack bar", "dish", "pizza"]


def test_a_folder_without_the_roots_is_one_clear_error(wordnet: Path) -> None:
    with pytest.raises(SystemExit, match=r"lacks the noun senses dish 3, depot 1; point it at WordNet 3.0"):
        sign_nouns(wordnet, KNOWN, (("building", 1), ("dish", 3), ("depot", 1)))


def test_phrases_fill_the_templates_with_the_sign_nouns(wordnet: Path) -> None:
    nouns = sign_nouns(wordnet, KNOWN, ROOTS)
    phrases = sign_inputs(wordnet, KNOWN, 150, seed=3, roots=ROOTS)
    assert len(phrases) == len(set(phrases)) == 150
    assert phrases == sign_inputs(wordnet, KNOWN, 150, seed=3, roots=ROOTS)  # the same on every run
    assert phrases != sign_inputs(wordnet, KNOWN, 150, seed=4, roots=ROOTS)
    forms = {form for noun in nouns for form in (noun, noun + "s", noun + "es")} | {"cafes"}
    made = set()
    for phrase in phrases:
        assert phrase[0].isupper() and 2 <= len(phrase.split()) <= 8
        matched = [t for t in TEMPLATES if _fits(t, phrase, forms)]
        assert matched, f"{phrase!r} fits no template"
        made.update(matched)
    assert len(made) > len(TEMPLATES) // 2  # the templates are drawn across, not one of them
    plurals = r"\b(buildings|restaurants|eating houses|cafes|coffee shops|snack bars|dishes|pizzas)\b"
    assert any(re.search(plurals, p, re.IGNORECASE) for p in phrases)


def test_asking_for_more_phrases_than_the_templates_allow_is_one_clear_error(wordnet: Path) -> None:
    with pytest.raises(SystemExit, match=r"asked of 8 nouns and \d+ templates; ask for at most"):
        sign_inputs(wordnet, KNOWN, len(TEMPLATES) * 8, roots=ROOTS)


def test_signs_is_a_distillation_source_with_case_variants() -> None:
    assert "signs" in SOURCES
    assert case_variants(["Pizza on the left"]) == ["Pizza on the left", "PIZZA ON THE LEFT", "Pizza On The Left"]


def _fits(template: str, phrase: str, forms: set[str]) -> bool:
    """Whether ``phrase`` is ``template`` (first letter capitalised) with nouns, plurals and a distance filled in."""
    pattern = re.escape(template[0].upper() + template[1:])
    for slot in ("n", "m", "p", "q"):
        pattern = pattern.replace(re.escape("{" + slot + "}"), "(" + "|".join(map(re.escape, forms)) + ")")
    pattern = pattern.replace(re.escape("{d}"), "(" + "|".join(map(re.escape, DISTANCES)) + ")")
    return bool(re.fullmatch(pattern, phrase, flags=re.IGNORECASE))


NOTICE_KNOWN = KNOWN | {"touch", "open", "smoke", "park", "wet", "hot"}


def test_notices_fill_their_templates_with_sign_verbs_things_and_places(wordnet: Path) -> None:
    phrases = notice_inputs(wordnet, NOTICE_KNOWN, 70, seed=5, things_from=(("dish", 2),), places_from=(("building", 1),))
    assert len(phrases) == len(set(phrases)) == 70
    assert phrases == notice_inputs(wordnet, NOTICE_KNOWN, 70, seed=5, things_from=(("dish", 2),), places_from=(("building", 1),))
    slots = {
        "t": ("touch", "open"), "o": ("dish", "pizza"), "op": ("dishes", "pizzas"), "a": ("wet", "hot"), "i": ("smoke", "park"),
        "g": ("smoking", "parking"), "r": ("building", "restaurant", "eating house", "cafe", "coffee shop", "snack bar"),
    }  # fmt: skip
    made = set()
    for phrase in phrases:
        assert phrase[0].isupper() and not phrase.startswith("Please")
        matched = [t for t in NOTICE_TEMPLATES if _fills(t, phrase, slots)]
        assert matched, f"{phrase!r} fits no template"
        made.update(matched)
    assert len(made) > len(NOTICE_TEMPLATES) // 2  # drawn across the templates
    # only the words Apertium holds: no verb, adjective or thing outside NOTICE_KNOWN
    assert not any(re.search(r"\b(feed|lock|swim|slippery|bowl)\b", p, re.IGNORECASE) for p in phrases)


def test_notices_without_enough_words_or_asked_for_too_many_are_one_clear_error(wordnet: Path) -> None:
    with pytest.raises(SystemExit, match=r"notices: too few words in .* that Apertium's dictionary holds"):
        notice_inputs(wordnet, KNOWN, 10, things_from=(("dish", 2),), places_from=(("building", 1),))  # no verbs known
    with pytest.raises(SystemExit, match=r"notices: 100000 phrases asked of \d+ templates that have \d+ fillings; ask for at most \d+"):
        notice_inputs(wordnet, NOTICE_KNOWN, 100_000, things_from=(("dish", 2),), places_from=(("building", 1),))


def test_notices_is_a_distillation_source() -> None:
    assert "notices" in SOURCES


def _fills(template: str, phrase: str, slots: dict[str, tuple[str, ...]]) -> bool:
    """Whether ``phrase`` is ``template`` (first letter capitalised) with each slot filled by one of its words."""
    pattern = re.escape(template[0].upper() + template[1:])
    for slot, words in slots.items():
        pattern = pattern.replace(re.escape("{" + slot + "}"), "(" + "|".join(map(re.escape, words)) + ")")
    return bool(re.fullmatch(pattern, phrase, flags=re.IGNORECASE))
