"""Notice-like short phrases for distillation: what public signs tell people to do or not to do.

``signs.py`` composes what signs say about the places they name ("Museum closed today", "Toilets on the
left"); signs also forbid, ask and warn ("Do not touch the door", "No smoking in the lobby", "Caution: wet
floor", "Thank you for not parking"). This source composes those: notice templates over verbs that signs use
(``TRANSITIVE``, ``INTRANSITIVE``, written from what public notices say), adjectives of warnings
(``ADJECTIVES``), the things they name (WordNet 3.0's nouns under ``OBJECT_ROOTS``: barriers, furniture,
machines, domestic animals, stairways, floors) and the places of ``signs.ROOTS`` (``PLACE_ROOTS``: not the food), kept where Apertium's
dictionary holds the word.

Nothing here reads an evaluation set; distill.py decontaminates every phrase like any other input.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from harness.models.recipes.nmt.everyday import Morphology
from harness.models.recipes.nmt.signs import ROOTS, sign_nouns

PLACE_ROOTS = tuple(root for root in ROOTS if root[0] not in ("meal", "dish", "beverage"))  # where one may not smoke

OBJECT_ROOTS = (("barrier", 1), ("furniture", 1), ("machine", 1), ("domestic_animal", 1), ("stairway", 1), ("floor", 1))
TRANSITIVE = ("touch", "feed", "open", "close", "lock", "block", "use", "move", "remove", "push", "pull", "enter", "leave",
              "cross", "climb", "disturb", "photograph", "press", "lift", "clean", "check", "ring")  # fmt: skip
INTRANSITIVE = ("smoke", "park", "eat", "drink", "run", "swim", "dive", "climb", "sit", "stand", "wait", "camp", "fish",
                "cycle", "skate", "shout", "stop", "knock", "litter", "play", "walk", "talk", "sleep", "jump", "ride",
                "enter", "speed", "dump", "pay", "queue", "overtake")  # fmt: skip
ADJECTIVES = ("hot", "wet", "slippery", "sharp", "fragile", "heavy", "low", "steep", "narrow", "loose", "automatic",
              "electric", "dangerous", "moving", "deep", "uneven", "fresh", "cold", "busy", "broken")  # fmt: skip
# {t}: a transitive verb, {o}/{op}: a thing and its plural, {a}: an adjective; {i}/{g}: an intransitive verb and its
# gerund, {r}: a place. No template starts with "Please": Apertium renders it "Complacer" (to please) where a
# sign means "Por favor", and the human pairs already teach the model that.
TEMPLATES = (
    "Do not {t} the {o}", "Do not {t} the {op}", "{t} the {o}", "{t} the {o} here",
    "Do not {t} the {o} without permission", "Keep the {o} closed", "Keep the {o} clean", "Keep the {o} clear",
    "Keep away from the {o}", "Keep clear of the {o}", "Mind the {o}", "Beware of the {o}",
    "Do not leave the {o} open", "Do not leave {op} here", "{o} out of use", "{o} under repair", "{o} in use",
    "{o} not in use", "{o} for emergency use only", "Caution: {a} {o}", "Warning: {a} {o}", "Danger: {a} {o}",
    "Caution: {a} {op}", "{a} {o}", "{op} must not be left here", "No {g}", "No {g} here", "No {g} in the {r}",
    "{g} is not allowed", "{g} is not allowed in the {r}", "{g} is prohibited", "{g} prohibited", "{g} allowed",
    "{g} area", "Thank you for not {g}", "Do not {i} in the {r}", "{i} here", "Do not {i}", "{g} only in the {r}",
    "Strictly no {g}", "{g} is forbidden in the {r}",
)  # fmt: skip


def notice_inputs(
    wordnet: Path, known: set[str], count: int, seed: int = 0, things_from: tuple[tuple[str, int], ...] = OBJECT_ROOTS,
    places_from: tuple[tuple[str, int], ...] = PLACE_ROOTS,
) -> list[str]:
    """``count`` distinct notice-like phrases (first letter capitalised) from ``TEMPLATES``.

    Things are the nouns under ``things_from``, places those under ``places_from`` (``signs.sign_nouns``).
    """
    rng, morph = random.Random(seed), Morphology(wordnet)
    things = sign_nouns(wordnet, known, things_from)
    places = sign_nouns(wordnet, known, places_from)
    transitive, intransitive = [v for v in TRANSITIVE if v in known], [v for v in INTRANSITIVE if v in known]
    adjectives = [a for a in ADJECTIVES if a in known]
    if min(len(things), len(places), len(transitive), len(intransitive), len(adjectives)) < 2:
        raise SystemExit(f"notices: too few words in {wordnet} that Apertium's dictionary holds; is it WordNet 3.0's dict folder?")
    # the words each template's slots draw from ("{o" is a thing, singular or plural; "{i}"/"{g}" a verb, no template has both)
    sizes = {"{t}": len(transitive), "{o": len(things), "{a}": len(adjectives), "{i}": len(intransitive), "{g}": len(intransitive),
             "{r}": len(places)}  # fmt: skip
    fills = [math.prod(n for slot, n in sizes.items() if slot in t) for t in TEMPLATES]
    most = sum(fills) // 2
    if count > most:
        asked = f"notices: {count} phrases asked of {len(TEMPLATES)} templates that have {sum(fills)} fillings"
        raise SystemExit(f"{asked}; ask for at most {most}")
    out: dict[str, None] = {}
    while len(out) < count:
        thing, verb = rng.choice(things), rng.choice(intransitive)
        text = rng.choice(TEMPLATES).format(
            t=rng.choice(transitive), o=thing, op=morph.plural(thing), a=rng.choice(adjectives), i=verb, g=morph.gerund(verb),
            r=rng.choice(places),
        )
        out[text[0].upper() + text[1:]] = None
    return list(out)
