"""Read GNU gettext .mo catalogs and turn their entries into clean English→Spanish sentence pairs.

The .mo layout (GNU gettext manual, "The Format of GNU MO Files"): a magic number that also tells the
byte order, a revision, the number of strings N, and the offsets of two tables of N (length, offset)
pairs, one for the original strings and one for the translations. A context is written before the
msgid and set apart by EOT (0x04); plural forms are NUL-separated in both the msgid and the msgstr.
"""

from __future__ import annotations

import html
import re
import struct
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CatalogEntry", "Drop", "clean_pair", "normalize_for_match", "read_mo"]

MO_MAGIC_LE = 0x950412DE
MO_MAGIC_BE = 0xDE120495


@dataclass(frozen=True)
class CatalogEntry:
    """One translated message; ``plural`` is set when the msgid had plural forms."""

    msgid: str
    msgstr: str
    plural: bool


class Drop(Exception):
    """Why a pair was left out: the message is the reason key counted in the data manifest."""


def read_mo(path: Path) -> Iterator[CatalogEntry]:
    """Yield the translated entries of one .mo file, header and empty translations left out."""
    data = path.read_bytes()
    (magic,) = struct.unpack("<I", data[:4])
    if magic == MO_MAGIC_LE:
        order = "<"
    elif magic == MO_MAGIC_BE:
        order = ">"
    else:
        raise ValueError(f"{path}: not a GNU .mo file (magic {magic:#x})")
    _rev, count, orig_at, trans_at = struct.unpack(order + "4I", data[4:20])
    for i in range(count):
        olen, ooff = struct.unpack(order + "2I", data[orig_at + 8 * i : orig_at + 8 * i + 8])
        tlen, toff = struct.unpack(order + "2I", data[trans_at + 8 * i : trans_at + 8 * i + 8])
        msgid = data[ooff : ooff + olen].decode("utf-8", errors="replace")
        msgstr = data[toff : toff + tlen].decode("utf-8", errors="replace")
        msgid = msgid.split("\x04", 1)[-1]  # drop the msgctxt
        if not msgid or not msgstr.strip("\x00 "):
            continue
        yield CatalogEntry(msgid.split("\x00")[0], msgstr.split("\x00")[0], "\x00" in msgid)


# printf (%s, %2$d, %(name)s, %lu), Qt/KDE (%1), Python/C# ({0}, {name}), shell ($VAR, ${VAR}).
PLACEHOLDER = re.compile(
    r"%(?:\d+\$|\([A-Za-z_]\w*\))?[-+ #0']*(?:\d+|\*)?(?:\.\d+)?"
    r"(?:hh|ll|[hlLqjzt])?[diouxXeEfFgGcspaA]"
    r"|%\d+|\{\w*\}|\$\{?[A-Za-z_]\w*\}?"
)
TAG = re.compile(r"</?[A-Za-z][^<>]*>")
ENTITY = re.compile(r"&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")
URLISH = re.compile(r"://|www\.|@\w+\.\w|(?:^|\s)[~.]?/[\w.-]+/|\\[nt]|\w+\.(?:so|conf|desktop|xml|ini|py|sh)\b")
CODEISH = re.compile(r"[{};=|\\]|\w+_\w+|\w+\(\)|--\w")
TRANSLATOR_CREDITS = {
    "translator-credits", "translator_credits", "your names", "your emails", "name of translators", "email of translators",
}


def strip_accelerator(text: str) -> str:
    """Remove one mnemonic mark: GTK ``_``, Qt/KDE ``&`` (``&&`` is a literal ``&``), LibreOffice ``~``."""
    text = text.replace("&&", "\x01")
    for mark in "_&~":
        if text.count(mark) == 1:
            text = re.sub(rf"{re.escape(mark)}(?=\w)", "", text)
    return text.replace("\x01", "&")


def _clean_side(text: str) -> str:
    if "|/|" in text:  # KDE Transcript: the script part after |/| is not text
        text = text.split("|/|", 1)[0]
    text = re.sub(r"^_: [^\n]*\n", "", text)  # old KDE in-msgid context
    text = TAG.sub(" ", text)
    text = ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    text = strip_accelerator(text)
    text = text.replace("\u00a0", " ").replace("…", "...").replace("\u2019", "'")
    text = re.sub(r"\s*\(_?[A-Z]\)$", "", text)  # "(_F)"-style mnemonics
    return re.sub(r"\s+", " ", text).strip()


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def clean_pair(entry: CatalogEntry, max_chars: int = 200) -> tuple[str, str]:
    """The cleaned (English, Spanish) pair of one entry, or :class:`Drop` with the reason."""
    if entry.plural:
        raise Drop("plural")
    raw_en, raw_es = entry.msgid, entry.msgstr
    if raw_en.strip().lower() in TRANSLATOR_CREDITS:
        raise Drop("credits")
    markup = sum(len(m) for m in TAG.findall(raw_en))
    if markup > 0.4 * len(raw_en):
        raise Drop("markup")
    if URLISH.search(raw_en) or URLISH.search(raw_es):
        raise Drop("path_or_url")
    en, es = _clean_side(raw_en), _clean_side(raw_es)
    if not en or not es or _letters(en) < 2 or _letters(es) < 2:
        raise Drop("empty_or_no_letters")
    if Counter(PLACEHOLDER.findall(en)) != Counter(PLACEHOLDER.findall(es)):
        raise Drop("placeholder_mismatch")
    bare_en = PLACEHOLDER.sub("", en)
    if CODEISH.search(bare_en) or _letters(bare_en) < 0.5 * len(bare_en.replace(" ", "")):
        raise Drop("code_like")
    if len(en) > max_chars or len(es) > max_chars * 1.5:
        raise Drop("too_long")
    if en.casefold() == es.casefold():
        raise Drop("untranslated")
    if len(en) >= 20 and not 0.5 <= len(es) / len(en) <= 2.5:
        raise Drop("length_ratio")
    return en, es


def normalize_for_match(text: str) -> str:
    """Case-folded text without punctuation or symbols, spaces collapsed: the decontamination key."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text)
    return " ".join(text.split())
