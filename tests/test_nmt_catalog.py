"""The NMT recipe's gettext .mo reader and pair cleaning (harness/models/recipes/nmt/mocatalog.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from harness.models.recipes.nmt.mocatalog import CatalogEntry, Drop, clean_pair, normalize_for_match, read_mo


def write_mo(path: Path, messages: list[tuple[str, str]]) -> None:
    """A little-endian .mo file of (msgid, msgstr) in the GNU layout (no hash table)."""
    n = len(messages)
    ids = [m[0].encode() for m in messages]
    strs = [m[1].encode() for m in messages]
    orig_at, trans_at = 28, 28 + 8 * n
    data_at = trans_at + 8 * n
    blob, orig_tab, trans_tab = b"", b"", b""
    for raw in ids:
        orig_tab += struct.pack("<2I", len(raw), data_at + len(blob))
        blob += raw + b"\0"
    for raw in strs:
        trans_tab += struct.pack("<2I", len(raw), data_at + len(blob))
        blob += raw + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, n, orig_at, trans_at, 0, 0)
    path.write_bytes(header + orig_tab + trans_tab + blob)


def test_read_mo_skips_header_and_splits_context_and_plurals(tmp_path: Path) -> None:
    mo = tmp_path / "x.mo"
    write_mo(mo, [("", "Content-Type: text/plain\n"), ("menu\x04_Open", "_Abrir"), ("%d file\x00%d files", "%d archivo\x00%d archivos"),
                  ("Untranslated", "")])
    entries = list(read_mo(mo))
    assert entries == [CatalogEntry("_Open", "_Abrir", False), CatalogEntry("%d file", "%d archivo", True)]


def test_read_mo_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mo"
    bad.write_bytes(b"\0" * 32)
    with pytest.raises(ValueError, match=r"not a GNU \.mo"):
        list(read_mo(bad))


@pytest.mark.parametrize(("msgid", "msgstr", "expected"), [
    ("_Open File", "_Abrir archivo", ("Open File", "Abrir archivo")),
    ("Save &As...", "Guardar &como…", ("Save As...", "Guardar como...")),
    ("~Insert Table", "~Insertar tabla", ("Insert Table", "Insertar tabla")),
    ("<b>Bold</b> text &amp; more", "Texto en <b>negrita</b> &amp; más", ("Bold text & more", "Texto en negrita & más")),
    ("Cannot open %s", "No se puede abrir %s", ("Cannot open %s", "No se puede abrir %s")),
    ("Don’t save", "No guardar", ("Don't save", "No guardar")),
])
def test_clean_pair_keeps_and_cleans(msgid: str, msgstr: str, expected: tuple[str, str]) -> None:
    assert clean_pair(CatalogEntry(msgid, msgstr, False)) == expected


@pytest.mark.parametrize(("msgid", "msgstr", "reason"), [
    ("%d files", "%d archivos", "plural"),
    ("Copy %s to %s", "Copiar %s", "placeholder_mismatch"),
    ("See https://example.org", "Vea https://example.org", "path_or_url"),
    ("100 %", "100 %", "empty_or_no_letters"),
    ("Firefox", "Firefox", "untranslated"),
    ("use_fallback_font", "usar_fuente", "code_like"),
    ("translator-credits", "Juan", "credits"),
])
def test_clean_pair_drops(msgid: str, msgstr: str, reason: str) -> None:
    with pytest.raises(Drop, match=reason):
        clean_pair(CatalogEntry(msgid, msgstr, reason == "plural"))


def test_normalize_for_match_ignores_case_and_punctuation() -> None:
    assert normalize_for_match("  Hello,  World! ") == normalize_for_match("hello world") == "hello world"
    assert normalize_for_match("¿Dónde está?") == "dónde está"
