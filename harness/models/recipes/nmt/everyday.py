"""Everyday English for distillation: WordNet's example sentences and glosses, and sentences composed from WordNet's words.

The sets the NMT model is measured on (Tatoeba, sign text) are short everyday sentences and phrases: "I don't
know what to do.", "Where is the station?". Debian's translation catalogs and package descriptions hold almost
none, so two distillation sources of that kind come from Princeton WordNet 3.0 (Debian ``wordnet-base``,
``License: WordNet3.0``, permissive):

- ``wordnet_inputs``: the example phrases and sentences quoted in WordNet's glosses ("she was able to program
  her computer") and the glosses themselves ("a plant or animal that is atypically small").
- ``everyday_inputs``: sentences composed from templates over WordNet's most frequent words (sense counts of
  the SemCor corpus, ``cntlist.rev``) that Apertium's dictionary holds: subjects × tenses × negation ×
  questions × verb phrases, with WordNet's irregular forms (``verb.exc``, ``noun.exc``). They teach the
  person, number and tense agreement that Apertium applies and a word-by-word model would miss.

Neither reads an evaluation set; distill.py decontaminates both like every other source.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

POS = {"1": "n", "2": "v", "3": "a", "5": "a"}
NAMES = ("Tom", "Mary", "John", "Anna", "Peter", "Laura", "David", "Maria", "my father", "my mother", "the teacher",
         "our neighbour", "my brother", "her sister", "the doctor", "the driver")
PRONOUNS = ("I", "you", "he", "she", "we", "they")
THIRD = {"he", "she", "it"}
PLACES = ("at home", "at work", "at school", "in the park", "in the city", "here", "there", "today", "now", "every day",
          "in the morning", "at night", "on Sunday", "again", "together", "alone")
PAST_TIMES = ("yesterday", "last night", "last week", "two days ago", "this morning")
FUTURE_TIMES = ("tomorrow", "next week", "soon", "later", "tonight")
BE = {"I": ("am", "was"), "you": ("are", "were"), "we": ("are", "were"), "they": ("are", "were")}
NOT = (" not", "n't")
IMPERATIVE = ("Please", "Do not", "Don't", "Let's")
CANT_FIND = "I can't find "
GLOSS_EXAMPLE = re.compile(r'"([^"]+)"')


def _words(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def wordnet_inputs(wordnet: Path) -> tuple[list[str], list[str]]:
    """(example sentences, glosses) of WordNet's data files, capitalised; examples of at least 4 words end with a full stop."""
    examples: dict[str, None] = {}
    glosses: dict[str, None] = {}
    for part in ("noun", "verb", "adj", "adv"):
        for line in _words(wordnet / f"data.{part}"):
            if line.startswith("  ") or " | " not in line:
                continue
            gloss = line.split(" | ", 1)[1].strip()
            for quoted in GLOSS_EXAMPLE.findall(gloss):
                text = " ".join(quoted.split()).strip(" ;,")
                if 2 <= len(text.split()) <= 25:
                    examples[_sentence(text)] = None
            definition = gloss.split(";")[0].strip()
            if '"' not in definition and 3 <= len(definition.split()) <= 20:
                glosses[definition[0].upper() + definition[1:]] = None
    return list(examples), list(glosses)


def _sentence(text: str) -> str:
    text = text[0].upper() + text[1:]
    if len(text.split()) >= 4 and text[-1] not in ".!?":
        text += "."
    return text


def frequent_lemmas(wordnet: Path) -> dict[str, list[str]]:
    """Single-word lowercase lemmas by part of speech (n, v, a), most frequent first (SemCor sense counts)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for line in _words(wordnet / "cntlist.rev"):
        fields = line.split()
        if len(fields) != 3 or "%" not in fields[0]:
            continue
        lemma, _, rest = fields[0].partition("%")
        pos = POS.get(rest[:1])
        if pos and lemma.isalpha() and lemma.islower():
            counts[pos][lemma] += int(fields[2])
    return {pos: [lemma for lemma, _ in counter.most_common()] for pos, counter in counts.items()}


def verb_frames(wordnet: Path) -> dict[str, set[int]]:
    """WordNet's generic sentence frames per verb lemma (``data.verb``): 2 = "Somebody ----s", 8/9 = "... something/somebody"."""
    frames: dict[str, set[int]] = defaultdict(set)
    for line in _words(wordnet / "data.verb"):
        if line.startswith("  ") or " | " not in line:
            continue
        fields = line.split(" | ", 1)[0].split()
        count = int(fields[3], 16)
        words = [fields[4 + 2 * i].lower() for i in range(count)]
        at = 4 + 2 * count
        at += 1 + 4 * int(fields[at])  # the pointers
        for i in range(int(fields[at]) if at < len(fields) else 0):
            frame, word = int(fields[at + 2 + 3 * i]), int(fields[at + 3 + 3 * i], 16)
            for lemma in words if word == 0 else words[word - 1 : word]:
                frames[lemma].add(frame)
    return frames


def exceptions(wordnet: Path, part: str) -> dict[str, list[str]]:
    """Irregular forms per lemma (``verb.exc``/``noun.exc``: "went go")."""
    forms: dict[str, list[str]] = defaultdict(list)
    for line in _words(wordnet / f"{part}.exc"):
        fields = line.split()
        if len(fields) == 2 and fields[0].isalpha():
            forms[fields[1]].append(fields[0])
    return forms


class Morphology:
    """English inflection: WordNet's irregular forms, regular rules otherwise."""

    def __init__(self, wordnet: Path) -> None:
        self.verbs, self.nouns = exceptions(wordnet, "verb"), exceptions(wordnet, "noun")

    def past(self, verb: str) -> str:
        irregular = [f for f in self.verbs.get(verb, []) if not f.endswith(("ing", "s"))]
        if len(irregular) > 1:  # the past participle is listed too: eaten, known, gone, begun
            irregular = [f for f in irregular if not f.endswith(("en", "wn", "ne"))] or irregular
            irregular = [f for f in irregular if "u" not in f] or irregular
        if irregular:
            return min(irregular, key=len)
        if verb.endswith("e"):
            return verb + "d"
        if re.search(r"[^aeiou]y$", verb):
            return verb[:-1] + "ied"
        return (verb + verb[-1] if _doubles(verb) else verb) + "ed"

    @staticmethod
    def third(verb: str) -> str:
        if verb in ("have", "do", "go"):
            return {"have": "has", "do": "does", "go": "goes"}[verb]
        if re.search(r"(s|x|z|ch|sh)$", verb):
            return verb + "es"
        if re.search(r"[^aeiou]y$", verb):
            return verb[:-1] + "ies"
        return verb + "s"

    @staticmethod
    def gerund(verb: str) -> str:
        if verb.endswith("ie"):
            return verb[:-2] + "ying"
        if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")):
            return verb[:-1] + "ing"
        return (verb + verb[-1] if _doubles(verb) else verb) + "ing"

    def plural(self, noun: str) -> str:
        irregular = self.nouns.get(noun)
        if irregular:
            return irregular[0]
        if re.search(r"(s|x|z|ch|sh)$", noun):
            return noun + "es"
        if re.search(r"[^aeiou]y$", noun):
            return noun[:-1] + "ies"
        return noun + "s"


def _doubles(word: str) -> bool:
    """One-syllable consonant-vowel-consonant words double the last letter (stop → stopped, run → running)."""
    return len(re.findall(r"[aeiou]+", word)) == 1 and bool(re.search(r"[^aeiou][aeiou][^aeiouwxy]$", word))


def everyday_inputs(wordnet: Path, known: set[str], count: int, seed: int = 0) -> list[str]:
    """``count`` distinct sentences composed from frequent WordNet words that are in ``known`` (Apertium's lemmas)."""
    rng = random.Random(seed)
    lemmas, frames, morph = frequent_lemmas(wordnet), verb_frames(wordnet), Morphology(wordnet)
    skip = {"be", "have", "do", "make", "get", "say", "go"}  # auxiliaries, and verbs the templates below use apart
    nouns = [n for n in lemmas["n"] if n in known and len(n) > 2][:900]
    adjectives = [a for a in lemmas["a"] if a in known and len(a) > 2][:250]
    verbs = [v for v in lemmas["v"] if v in known and v not in skip and len(v) > 1][:450]
    transitive = [v for v in verbs if frames.get(v, set()) & {8, 9, 10, 11}]
    intransitive = [v for v in verbs if frames.get(v, set()) & {1, 2}]

    def thing() -> str:
        noun = rng.choice(nouns)
        kind = rng.randrange(6)
        if kind == 0:
            return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
        if kind == 1:
            return f"the {rng.choice(adjectives)} {noun}"
        if kind == 2:
            return f"{rng.choice(('my', 'your', 'his', 'her', 'our', 'their'))} {noun}"
        if kind == 3:
            return f"{rng.choice(('the', 'some', 'these', 'many'))} {morph.plural(noun)}"
        return f"{rng.choice(('the', 'this', 'that'))} {noun}"

    def predicate() -> tuple[str, str]:
        """A verb and what follows it."""
        if transitive and (not intransitive or rng.random() < 0.7):
            return rng.choice(transitive), thing()
        return rng.choice(intransitive), rng.choice(PLACES)

    def subject() -> str:
        return rng.choice(PRONOUNS) if rng.random() < 0.6 else rng.choice(NAMES)

    def wants(third: bool) -> str:
        want = rng.choice(("want", "need", "have", "like", "would like"))
        return morph.third(want) if third and want != "would like" else want

    def be(who: str, tense: int) -> str:
        return BE.get(who, ("is", "was"))[tense]

    def elsewhere() -> str:
        noun = rng.choice(nouns)
        return rng.choice((f"There is {thing()} in the {noun}.", f"Where is the {noun}?", f"The {noun} is {rng.choice(adjectives)}.",
                           CANT_FIND + thing() + ".", f"Is there {thing()} near here?"))

    templates: list[Callable[[str, bool, str, str], str]] = [
        lambda who, third, verb, rest: f"{who} {morph.third(verb) if third else verb} {rest}.",
        lambda who, third, verb, rest: f"{who} {morph.past(verb)} {rest} {rng.choice(PAST_TIMES)}.",
        lambda who, third, verb, rest: f"{who} will {verb} {rest} {rng.choice(FUTURE_TIMES)}.",
        lambda who, third, verb, rest: f"{who} {'does' if third else 'do'}{rng.choice(NOT)} {verb} {rest}.",
        lambda who, third, verb, rest: f"{who} didn't {verb} {rest}.",
        lambda who, third, verb, rest: f"{'Does' if third else 'Do'} {who} {verb} {rest}?",
        lambda who, third, verb, rest: f"Did {who} {verb} {rest}?",
        lambda who, third, verb, rest: f"{rng.choice(('Can', 'Should', 'Will'))} {who} {verb} {rest}?",
        lambda who, third, verb, rest: f"{who} {be(who, 0)} {morph.gerund(verb)} {rest}.",
        lambda who, third, verb, rest: f"{who} {wants(third)} to {verb} {rest}.",
        lambda who, third, verb, rest: f"{rng.choice(IMPERATIVE)} {verb} {rest}.",
        lambda who, third, verb, rest: (f"{who} {rng.choice((be(who, 0), be(who, 1), be(who, 0) + ' not', 'will be'))} "
                                        f"{rng.choice(('very ', 'too ', '', ''))}{rng.choice(adjectives)}."),
        lambda who, third, verb, rest: f"{rng.choice(('Where', 'When', 'Why'))} did {who} {verb} {rest}?",
        lambda who, third, verb, rest: elsewhere(),
    ]

    def make() -> str:
        who = subject()
        verb, rest = predicate()
        return templates[rng.randrange(len(templates))](who, who not in BE, verb, rest)

    out: dict[str, None] = {}
    while len(out) < count:
        text = make()
        out[text[0].upper() + text[1:]] = None
    return list(out)
