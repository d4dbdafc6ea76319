"""Corrections of the teacher's systematic errors, applied to distilled pairs where the options ask for them.

Options (``teacher_post_edits`` in the training options) name the edits; train.py applies them to the
distilled pairs it trains on and to the distilled validation pairs it selects checkpoints on, so the data
files stay Apertium's own output and a run without the option reads exactly what earlier runs read.

- ``please``: Apertium's eng-spa analyses the courtesy "please" as the verb *to please* and writes
  "Complacer" ("Please do not touch." → "Complacer no toca."; "…, please." → "…, complace."). Where the
  English has "please" that is not the verb (not "to please", not "please him", …), the edit writes
  "por favor" for each such "complacer"/"complace"/"complacen" (in the case Apertium wrote it; "Por favor,"
  where it begins a sentence and a word follows), as the human translations in collect.py's catalogs do. The
  rest of the teacher's sentence is left as it is.
- ``closed``: Apertium reads a sign's "closed" as the past tense *closed*: "Museum closed" → "El museo
  cerró", "Keep the door closed" → "Mantener la puerta cerró", "… is closed" → "… es cerró". Where the
  English "closed" is the state (after "is", "are", "keep", "remain", …, or ending a sign of at most
  ``SIGN_WORDS`` words, or followed there only by words such as "today", "for", "until"), the edit writes the
  participle for each such "cerró"/"cerraron", agreeing with the nearest article before it ("la" →
  "cerrada", "los" → "cerrados"; none: "cerrado", or "cerrados" for "cerraron"), "está"/"están" for a "es"/"son"
  just before it, and drops the article that Apertium put first where the English sign has none ("Museo
  cerrado"). A "closed" with a subject pronoun before it or an object after it ("She closed the door") is the
  verb and stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["HUMAN_TARGETS", "POST_EDITS", "check_edits", "closed", "please", "post_edit"]

SIGN_WORDS = 6  # a "closed" that ends an English text this short is a sign's

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

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.isupper():
            return "POR FAVOR"
        if word[0].isupper():  # it begins a sentence: "Por favor, no tocar"
            return "Por favor" + ("," if match.group(2) and not match.group(1) else "")
        return "por favor"

    return _COMPLACER.sub(replace, es, count=courtesy)  # the first ones: as many as the English has


_STATE_BEFORE = r"(?:is|are|be|been|being|keep|keeps|kept|remain|remains|remained|stay|stays|stayed|temporarily|now|currently)"
_STATE = re.compile(rf"\b{_STATE_BEFORE}\s+closed\b", re.IGNORECASE)
_SIGN_AFTER = r"(?:today|tomorrow|tonight|now|temporarily|indefinitely|for|until|till|on|at|from|during|due|to|except|weekends|sundays)"
_SIGN = re.compile(rf"\bclosed\b(?=\s*(?:[.!:;,)]|$|{_SIGN_AFTER}\b))", re.IGNORECASE)
_SUBJECT = re.compile(r"\b(?:i|you|he|she|we|they|who|which|that|it)\s+closed\b", re.IGNORECASE)
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their"}
_CERRO = re.compile(r"\b(?:(es|son|Es|Son|ES|SON)\s+((?:ya|Ya|YA)\s+)?)?(cerr(?:ó|aron))\b", re.IGNORECASE)
_ARTICLE = re.compile(r"\b(el|la|los|las|un|una|unos|unas|del|al)\b", re.IGNORECASE)
_ENDINGS = {"el": "o", "un": "o", "del": "o", "al": "o", "la": "a", "una": "a", "los": "os", "unos": "os", "las": "as", "unas": "as"}
_LEADING_ARTICLE = re.compile(r"^(?:el|la|los|las)\s+(?=\w)", re.IGNORECASE)


def _cased(word: str, like: str) -> str:
    """``word`` in the case of ``like`` (UPPER, Title or lower)."""
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if like[0].isupper() else word


def closed(en: str, es: str) -> str:
    """``es`` with the teacher's past tense "cerró" for a sign's state "closed" of ``en`` replaced by the participle."""
    words = en.split()
    states = len(_STATE.findall(en))
    if len(words) <= SIGN_WORDS:
        states = max(states, len(_SIGN.findall(en)) - len(_SUBJECT.findall(en)))
    if states <= 0:
        return es

    def replace(match: re.Match[str]) -> str:
        be, already, verb = match.groups()
        articles = _ARTICLE.findall(es[: match.start()])
        ending = _ENDINGS[articles[-1].lower()] if articles else ("os" if verb.lower() == "cerraron" else "o")
        out = _cased("cerrad" + ending, verb)
        if be:
            plural = be.lower() == "son"
            out = _cased("están" if plural else "está", be) + " " + (already or "") + out
        return out

    edited = _CERRO.sub(replace, es, count=states)
    if edited != es and len(words) <= SIGN_WORDS and words[0].lower() not in _DETERMINERS and _LEADING_ARTICLE.match(edited):
        rest = _LEADING_ARTICLE.sub("", edited, count=1)
        edited = rest[0].upper() + rest[1:] if not rest[:1].isupper() and edited[:1].isupper() else rest
    return edited


POST_EDITS: dict[str, Callable[[str, str], str]] = {"please": please, "closed": closed}
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
