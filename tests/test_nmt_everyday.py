"""The everyday-English sources of the NMT recipe, on WordNet files written in WordNet 3.0's own formats."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.models.recipes.nmt.everyday import Morphology, everyday_inputs, frequent_lemmas, verb_frames, wordnet_inputs

LICENCE_LINE = "  1 This software and database is being provided to you, the LICENSEE, by  "


@pytest.fixture()
def wordnet(tmp_path: Path) -> Path:
    """A small WordNet: data.* (synsets with frames and glosses), cntlist.rev (sense counts), *.exc (irregular forms)."""
    (tmp_path / "data.noun").write_text("\n".join([
        LICENCE_LINE,
        "00006269 03 n 01 life 0 002 @ 00004258 n 0000 ~ 07993776 n 0000 | "
        'living things collectively; "the oceans are teeming with life"  ',
        "02924116 06 n 01 bus 0 000 | a vehicle carrying many passengers  ",
        "03546340 06 n 02 house 0 home 1 000 | a dwelling that serves as living quarters for one or more families  ",
        "09918248 18 n 01 child 0 000 | a young person of either sex  ",
    ]) + "\n")  # fmt: skip
    (tmp_path / "data.verb").write_text("\n".join([
        LICENCE_LINE,
        '01168468 34 v 02 eat 0 feed 1 001 @ 01157517 v 0000 02 + 08 01 + 02 00 | take in solid food; "she was eating a banana"; '
        '"what did you eat for dinner last night?"  ',
        '01926311 38 v 01 run 0 000 01 + 02 00 | move fast by using one\'s feet; "Don\'t run--you\'ll be out of breath"  ',
        "01860795 38 v 01 stop 0 000 02 + 08 00 + 02 00 | come to a halt  ",
    ]) + "\n")  # fmt: skip
    (tmp_path / "data.adj").write_text('01123148 00 a 01 good 0 000 | having desirable or positive qualities; "good news"  \n')
    (tmp_path / "data.adv").write_text(LICENCE_LINE + "\n")
    (tmp_path / "cntlist.rev").write_text("\n".join([
        "eat%2:34:00:: 1 61", "feed%2:34:00:: 1 5", "run%2:38:00:: 1 30", "stop%2:38:00:: 1 40", "life%1:14:00:: 1 90",
        "bus%1:06:00:: 1 12", "house%1:06:00:: 1 70", "child%1:18:00:: 1 50", "good%3:00:01:: 1 200", "zebra%1:05:00:: 1 1",
    ]) + "\n")  # fmt: skip
    (tmp_path / "verb.exc").write_text("ate eat\neaten eat\nran run\nrunning run\nbegan begin\nbegun begin\nknew know\nknown know\n")
    (tmp_path / "noun.exc").write_text("children child\n")
    return tmp_path


def test_examples_and_glosses_are_read_from_the_data_files(wordnet: Path) -> None:
    examples, glosses = wordnet_inputs(wordnet)
    assert examples == ["The oceans are teeming with life.", "She was eating a banana.",
                        "What did you eat for dinner last night?", "Don't run--you'll be out of breath.", "Good news"]  # fmt: skip
    assert glosses == ["Living things collectively", "A vehicle carrying many passengers",
                       "A dwelling that serves as living quarters for one or more families", "A young person of either sex",
                       "Take in solid food", "Move fast by using one's feet", "Come to a halt",
                       "Having desirable or positive qualities"]  # fmt: skip


def test_frames_and_frequencies(wordnet: Path) -> None:
    frames = verb_frames(wordnet)
    assert frames["eat"] == {2, 8} and frames["feed"] == {2}  # "+ 08 01": frame 8 for the synset's first word only
    assert frames["run"] == {2} and frames["stop"] == {2, 8}
    lemmas = frequent_lemmas(wordnet)
    assert lemmas["v"] == ["eat", "stop", "run", "feed"] and lemmas["n"][:2] == ["life", "house"] and lemmas["a"] == ["good"]


def test_irregular_forms_come_from_wordnet_and_regular_ones_from_rules(wordnet: Path) -> None:
    morph = Morphology(wordnet)
    assert [morph.past(v) for v in ("eat", "run", "begin", "know", "stop", "carry", "like", "open", "play")] == [
        "ate", "ran", "began", "knew", "stopped", "carried", "liked", "opened", "played"]  # fmt: skip
    assert [morph.third(v) for v in ("watch", "try", "go", "have", "play", "fix")] == ["watches", "tries", "goes", "has", "plays", "fixes"]
    assert [morph.gerund(v) for v in ("run", "make", "die", "see", "open", "visit")] == [
        "running", "making", "dying", "seeing", "opening", "visiting"]  # fmt: skip
    assert [morph.plural(n) for n in ("child", "bus", "city", "day", "house")] == ["children", "buses", "cities", "days", "houses"]


def test_everyday_sentences_are_distinct_deterministic_and_use_only_known_words(wordnet: Path) -> None:
    known = {"eat", "stop", "run", "feed", "life", "house", "bus", "child", "good"}  # not "zebra"
    first = everyday_inputs(wordnet, known, 300, seed=3)
    assert first == everyday_inputs(wordnet, known, 300, seed=3) and len(set(first)) == 300
    assert first != everyday_inputs(wordnet, known, 300, seed=4)
    assert all(text[0].isupper() and text[-1] in ".?" for text in first)
    words = {w.lower() for text in first for w in re.findall(r"[A-Za-z']+", text)}
    assert "zebra" not in words and "zebras" not in words
    assert {"ate", "stopped", "children", "will", "didn't"} <= words  # tenses, negation and irregular forms all occur
    assert any(text.endswith("?") for text in first)
