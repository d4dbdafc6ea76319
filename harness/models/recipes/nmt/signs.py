"""Sign-like short phrases for distillation: what public signs say about the places, rooms, food and transport they name.

Signs are mostly one to four words ("Breakfast included", "Toilets on the left", "Museum closed today"). The
dictionary source gives the model each of Apertium's words once, alone; a word a test sign also holds alone is
rightly removed from it by decontamination, so the model can learn it only from text that uses it. This source
composes such text: sign templates (directions, opening, access, services) over the nouns WordNet 3.0 files
under what signs name (``ROOTS``: buildings, rooms, facilities, shops, meals, dishes, drinks, vehicles, public
transport, roads), kept where Apertium's dictionary holds them.

Nothing here reads an evaluation set. The roots and templates were written from what public signs say, not from
the phrasebook; distill.py decontaminates every phrase like any other input, so a phrase that is a test line
(exactly, after normalization) never reaches training.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from harness.models.recipes.nmt.everyday import Morphology

# (lemma, sense number) of the WordNet noun synsets whose hyponyms are sign words
ROOTS = (("building", 1), ("room", 1), ("facility", 1), ("mercantile_establishment", 1), ("shop", 1),
         ("place_of_business", 1), ("meal", 1), ("dish", 2), ("beverage", 1), ("vehicle", 1), ("public_transport", 1),
         ("road", 1))  # fmt: skip
# {n}/{m}: a noun, {p}/{q}: its plural, {d}: a distance
TEMPLATES = (
    "{n} closed", "{n} open", "{n} closed today", "{n} open daily", "{n} closed for repairs", "{n} out of order",
    "{n} temporarily closed", "{n} closed on Sundays", "{n} opening hours", "{n} entrance", "{n} exit",
    "Entrance to the {n}", "Exit to the {n}", "To the {n}", "To the {p}", "{n} on the left", "{n} on the right",
    "{n} straight ahead", "{n} upstairs", "{n} downstairs", "{n} this way", "{n} ahead", "Nearest {n}", "{n} nearby",
    "{n} next door", "{n} around the corner", "{n} {d}", "No {p}", "No {n}", "{n} only", "{p} only",
    "{n} for customers only", "{n} for staff only", "Private {n}", "Free {n}", "{n} included", "{n} available",
    "{n} not available", "{n} here", "{p} here", "{n} area", "Welcome to the {n}", "Please use the {n}",
    "Do not use the {n}", "Please wait for the {n}", "{n} and {m}", "{p} and {q}", "Way to the {n}", "Main {n}",
    "Public {n}", "{n} on the ground floor", "{n} on the first floor", "{n} in the basement", "{n} for sale",
    "Where is the {n}?", "The {n} is closed.", "The {n} is open.",
)  # fmt: skip
DISTANCES = ("50 m", "100 m", "200 m", "500 m", "1 km", "2 km", "5 min")


def sign_nouns(wordnet: Path, known: set[str], roots: tuple[tuple[str, int], ...] = ROOTS) -> list[str]:
    """Lowercase one- or two-word noun lemmas of ``roots`` and their hyponyms (not instances) that are in ``known``."""
    offsets: dict[str, list[str]] = {}
    for line in (wordnet / "index.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if line.startswith("  ") or len(fields) < 4:
            continue
        pointers = int(fields[3])
        offsets[fields[0]] = fields[6 + pointers :]
    hyponyms: dict[str, list[str]] = defaultdict(list)
    words: dict[str, list[str]] = {}
    for line in (wordnet / "data.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("  ") or " | " not in line:
            continue
        fields = line.split(" | ", 1)[0].split()
        count = int(fields[3], 16)
        words[fields[0]] = [fields[4 + 2 * i] for i in range(count)]
        at = 4 + 2 * count
        for i in range(int(fields[at])):
            symbol, target = fields[at + 1 + 4 * i], fields[at + 2 + 4 * i]
            if symbol == "~":
                hyponyms[fields[0]].append(target)
    missing = [f"{lemma} {sense}" for lemma, sense in roots if len(offsets.get(lemma, [])) < sense]
    if missing:
        raise SystemExit(f"signs: {wordnet} lacks the noun senses {', '.join(missing)}; point it at WordNet 3.0's dict folder")
    todo = [offsets[lemma][sense - 1] for lemma, sense in roots]
    seen: set[str] = set()
    while todo:
        offset = todo.pop()
        if offset not in seen:
            seen.add(offset)
            todo += hyponyms[offset]
    nouns: dict[str, None] = {}
    for offset in sorted(seen):
        for word in words[offset]:
            lemma = word.replace("_", " ")
            if lemma.islower() and lemma.replace(" ", "").isalpha() and len(lemma.split()) <= 2 and lemma in known:
                nouns[lemma] = None
    return list(nouns)


def sign_inputs(wordnet: Path, known: set[str], count: int, seed: int = 0, roots: tuple[tuple[str, int], ...] = ROOTS) -> list[str]:
    """``count`` distinct sign-like phrases (first letter capitalised) from ``TEMPLATES`` over ``sign_nouns``."""
    rng = random.Random(seed)
    nouns, morph = sign_nouns(wordnet, known, roots), Morphology(wordnet)
    if len(nouns) < 2:
        raise SystemExit(f"signs: only {len(nouns)} sign nouns found in {wordnet}; is it WordNet 3.0's dict folder?")
    most = len(TEMPLATES) * len(nouns) // 2
    if count > most:
        raise SystemExit(f"signs: {count} phrases asked of {len(nouns)} nouns and {len(TEMPLATES)} templates; ask for at most {most}")
    out: dict[str, None] = {}
    while len(out) < count:
        noun, other = rng.sample(nouns, 2)
        text = rng.choice(TEMPLATES).format(n=noun, m=other, p=morph.plural(noun), q=morph.plural(other), d=rng.choice(DISTANCES))
        out[text[0].upper() + text[1:]] = None
    return list(out)
