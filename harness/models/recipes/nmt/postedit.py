"""Corrections of the teacher's systematic errors, applied to distilled pairs where the options ask for them.

Options (``teacher_post_edits`` in the training options) name the edits; train.py applies them to the
distilled pairs it trains on and to the distilled validation pairs it selects checkpoints on, so the data
files stay Apertium's own output and a run without the option reads exactly what earlier runs read.

- ``please``: Apertium's eng-spa analyses the courtesy "please" as the verb *to please* and writes
  "Complacer" ("Please do not touch." → "Complacer no toca."; "…, please." → "…, complace."). Where the
  English has "please" that is not the verb (not "to please", not "please him", …), the edit writes
  "por favor" for each such "complacer"/"complace"/"complacen" (in the case Apertium wrote it; "Por favor,"
  where it begins a sentence and a word follows), as the human translations in collect.py's catalogs do. The rest of the
  teacher's sentence is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["HUMAN_TARGETS", "POST_EDITS", "check_edits", "please", "post_edit"]

_PLEASE = re.compile(r"\bplease\b", re.IGNORECASE)
_VERB = re.compile(
    r"\b(?:to|not|cannot|can't|could|would|will|may|might|must|should|does|did|do|never|always)\s+please\b"
    r"|\bplease\s+(?:me|him|her|us|them|it|everyone|everybody|people|anyone|anybody|yourself|himself|herself|themselves|god)\b",
    re.IGNORECASE,
)
_COMPLACER = re.compile(r"\bcompla(?:cer|ce|cen)\b(?=(,?)\s*(\w?))", re.IGNORECASE)


def please(en: str, es: str) -> str:
    """``es`` with the teacher's verb "complacer" for a courtesy "please" of ``en`` replaced by "por favor"."""
    courtesy = len(_PLEASE.findall(en)) - len(_VERB.findall(en))
    if courtesy <= 0:
        return es
    done = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal done
        if done == courtesy:
            return match.group(0)
        done += 1
        word = match.group(0)
        if word.isupper():
            return "POR FAVOR"
        if word[0].isupper():  # it begins a sentence: "Por favor, no tocar"
            return "Por favor" + ("," if match.group(2) and not match.group(1) else "")
        return "por favor"

    return _COMPLACER.sub(replace, es)


POST_EDITS: dict[str, Callable[[str, str], str]] = {"please": please}
HUMAN_TARGETS = ("backtranslated",)  # distilled sources whose Spanish is human (collect.py's msgstrs): nothing to correct


def check_edits(edits: tuple[str, ...]) -> None:
    """One clear SystemExit for an edit no one wrote."""
    unknown = [name for name in edits if name not in POST_EDITS]
    if unknown:
        raise SystemExit(f"train: unknown teacher_post_edits {unknown}; known: {sorted(POST_EDITS)}")


def post_edit(en: str, es: str, source: str, edits: tuple[str, ...]) -> str:
    """The Spanish side of one distilled pair of ``source`` with ``edits`` applied."""
    if source in HUMAN_TARGETS:
        return es
    for name in edits:
        es = POST_EDITS[name](en, es)
    return es
