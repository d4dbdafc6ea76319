"""Debian packages → clean English→Spanish training pairs, decontaminated against the evaluation sets.

    python -m harness.models.recipes.nmt.collect --out build/nmt/data

Downloads the .debs of ``packages.txt`` with ``apt-get download`` (run ``apt-get update`` first),
unpacks them with ``dpkg -x`` (nothing is installed), reads every Spanish .mo catalog, cleans the pairs
(see ``mocatalog.clean_pair``), removes every pair whose English or Spanish side matches a line of an
evaluation set (``decontam``: the MT test sets and the sign phrasebook; exact after normalization, or a
near duplicate), deduplicates, and splits off a validation set by a hash of the English side (so one English
string never lands on both sides). Writes ``train.tsv``, ``valid.tsv`` (English TAB Spanish) and
``manifest.json`` (package versions, .deb sha256, licences, counts per package and per drop reason).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness.models.recipes.nmt.decontam import Decontaminator, evaluation_files
from harness.models.recipes.nmt.mocatalog import Drop, clean_pair, normalize_for_match, read_mo
from harness.paths import project_root

MANIFEST_VERSION = 1
HERE = Path(__file__).resolve().parent  # the recipe's data files ship beside it
PROJECT = project_root()


class CollectError(RuntimeError):
    """A step of the recipe could not run; the message says how to fix it."""


@dataclass
class PackageRecord:
    """What one Debian package gave: its .deb, its licence and its counts."""

    name: str
    version: str = ""
    deb: str = ""
    deb_sha256: str = ""
    licence: str = ""
    copyright_file: str = ""
    catalogs: int = 0
    messages: int = 0
    kept: int = 0
    drops: Counter[str] = field(default_factory=Counter)


def read_package_list(path: Path) -> list[str]:
    """Package names of ``packages.txt``: one a line, ``#`` comments."""
    names = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [n for n in names if n]


def download(names: list[str], debs: Path) -> dict[str, Path]:
    """``apt-get download`` every package not yet in ``debs``; name → .deb path."""
    debs.mkdir(parents=True, exist_ok=True)
    missing = [n for n in names if not list(debs.glob(f"{n}_*.deb"))]
    if missing:
        done = subprocess.run(["apt-get", "download", *missing], cwd=debs, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CollectError(f"apt-get download failed: {done.stderr.strip()[-800:]}\n"
                               "Run `apt-get update` first; a name that no longer exists must leave packages.txt.")
    found = {}
    for name in names:
        hits = sorted(debs.glob(f"{name}_*.deb"))
        if not hits:
            raise CollectError(f"no .deb for {name} in {debs}")
        found[name] = hits[-1]
    return found


def unpack(deb: Path, root: Path) -> Path:
    """``dpkg -x`` a .deb into ``root/<package>`` once."""
    target = root / deb.name.split("_", 1)[0]
    if not (target / ".unpacked").exists():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
        (target / ".unpacked").touch()
    return target


def licence_of(tree: Path, name: str, trees: dict[str, Path]) -> tuple[str, str]:
    """The licence names in a package's Debian copyright file, and which file that was."""
    doc = tree / "usr/share/doc" / name
    owner = name
    if doc.is_symlink():  # -data packages often point at the main package's doc folder
        owner = Path(doc.readlink()).name
        if owner not in trees:  # fetch the owner's .deb for its copyright file only
            trees[owner] = unpack(download([owner], tree.parent.parent / "debs")[owner], tree.parent)
        doc = trees[owner] / "usr/share/doc" / owner
    copyright_file = doc / "copyright"
    if not copyright_file.is_file():
        return f"not shipped here (doc folder links to package {owner})", ""
    text = copyright_file.read_text(errors="replace")
    if text.startswith("Format:"):
        names = re.findall(r"^License:[ \t]*(\S[^\n]*)", text, flags=re.M)
        licences = sorted({n.strip() for n in names})
    else:
        licences = sorted(set(re.findall(r"\b(?:L?GPL|MPL|Apache|BSD|MIT|Artistic|GFDL|CC-BY[-\w.]*)[-\w.+]*", text)))
        licences = [f"free-form copyright: {', '.join(licences) or 'see file'}"]
    return "; ".join(licences), f"{owner}:/usr/share/doc/{owner}/copyright"


def spanish_catalogs(tree: Path) -> list[Path]:
    """Every .mo under a ``.../es/LC_MESSAGES/`` folder of an unpacked package, sorted."""
    return sorted(p for p in tree.rglob("*.mo") if p.parent.name == "LC_MESSAGES" and p.parent.parent.name == "es")


def is_valid_split(en: str, per_mille: int) -> bool:
    """Deterministic validation membership from the English side's hash."""
    return int(hashlib.sha1(normalize_for_match(en).encode()).hexdigest(), 16) % 1000 < per_mille


def collect(names: list[str], work: Path, per_mille: int) -> tuple[list[PackageRecord], list[tuple[str, str]], dict]:
    """Run the whole collection; returns the package records, the kept pairs and global counts."""
    debs = download(names, work / "debs")
    trees = {n: unpack(d, work / "unpacked") for n, d in debs.items()}
    try:
        blocked = Decontaminator.from_files(evaluation_files())
    except FileNotFoundError as exc:
        raise CollectError(str(exc)) from None
    seen: set[tuple[str, str]] = set()
    pairs: list[tuple[str, str]] = []
    totals: Counter[str] = Counter()
    records = []
    for name in names:
        rec = PackageRecord(name, deb=debs[name].name, deb_sha256=hashlib.sha256(debs[name].read_bytes()).hexdigest())
        rec.version = debs[name].name.split("_")[1].replace("%3a", ":")
        rec.licence, rec.copyright_file = licence_of(trees[name], name, trees)
        for catalog in spanish_catalogs(trees[name]):
            rec.catalogs += 1
            for entry in read_mo(catalog):
                rec.messages += 1
                try:
                    en, es = clean_pair(entry)
                except Drop as why:
                    rec.drops[str(why)] += 1
                    continue
                overlap = blocked.pair_match(en, es)
                if overlap:
                    rec.drops[f"eval_overlap_{overlap}"] += 1
                    continue
                if (en, es) in seen:
                    rec.drops["duplicate"] += 1
                    continue
                seen.add((en, es))
                pairs.append((en, es))
                rec.kept += 1
        totals.update(rec.drops)
        totals["messages"] += rec.messages
        records.append(rec)
    return records, pairs, dict(totals) | {"decontaminated_against": blocked.sha256}


def write_outputs(out: Path, records: list[PackageRecord], pairs: list[tuple[str, str]], totals: dict,
                  per_mille: int) -> dict:
    """Write train.tsv, valid.tsv and manifest.json; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    valid = [p for p in pairs if is_valid_split(p[0], per_mille)]
    train = [p for p in pairs if not is_valid_split(p[0], per_mille)]
    for fname, rows in (("train.tsv", train), ("valid.tsv", valid)):
        with open(out / fname, "w") as fh:
            fh.writelines(f"{en}\t{es}\n" for en, es in rows)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "debian_release": Path("/etc/debian_version").read_text().strip(),
        "counts": {"packages": len(records), "catalogs": sum(r.catalogs for r in records),
                   **{k: v for k, v in totals.items() if k != "decontaminated_against"},
                   "pairs": len(pairs), "train": len(train), "valid": len(valid)},
        "decontaminated_against_sha256": totals.get("decontaminated_against", {}),
        "valid_rule": f"sha1(normalize(en)) % 1000 < {per_mille}",
        "packages": [{**{k: v for k, v in vars(r).items() if k != "drops"}, "drops": dict(r.drops)} for r in records],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=Path, default=HERE / "packages.txt")
    parser.add_argument("--work", type=Path, default=PROJECT / "build/nmt", help="where .debs are fetched and unpacked")
    parser.add_argument("--out", type=Path, default=PROJECT / "build/nmt/data")
    parser.add_argument("--valid-per-mille", type=int, default=15)
    args = parser.parse_args()
    try:
        records, pairs, totals = collect(read_package_list(args.packages), args.work, args.valid_per_mille)
    except CollectError as err:
        sys.exit(f"collect: {err}")
    manifest = write_outputs(args.out, records, pairs, totals, args.valid_per_mille)
    print(json.dumps(manifest["counts"], indent=1))


if __name__ == "__main__":
    main()
