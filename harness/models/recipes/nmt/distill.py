"""English text that is not evaluation data, translated by Apertium: distilled training pairs for the NMT recipe.

    python -m harness.models.recipes.nmt.distill --work build/nmt --data build/nmt/data

Sequence-level knowledge distillation: the student learns the teacher's output on inputs the teacher can
translate. The teacher is arbench's own Apertium backend (``harness.mt.apertium``, eng-spa), so the
student learns exactly what it is later compared with. Sources, each capped at ``--max-per-source``
strings (a deterministic sample by hash):

- ``dictionary``: the English lemmas of Apertium's bilingual dictionary (``eng-spa.autobil.bin`` printed
  with lttoolbox's ``lt-print``): single words and multiword noun phrases, sign-length.
- ``phrases``: short phrases composed from the dictionary's words (adjective + noun, noun + noun, verb +
  the + noun, "no" + noun, "do not" + verb), for word order and agreement.
- ``ui``: the English msgids of collect.py's training pairs (Apertium's version beside the human one).
- ``descriptions``: synopses and sentences of the English package descriptions (``apt-cache dumpavail``).
- ``fortunes``: sentences of Debian's ``fortunes-min`` (downloaded with ``apt-get download``, not installed).
- ``backtranslated``: the human Spanish msgstrs of collect.py's pairs with Apertium's spa-eng English as
  the source (back-translation: human targets, synthetic sources).
- ``wordnet``: WordNet 3.0's example sentences and (up to ``GLOSSES``) glosses (``everyday.wordnet_inputs``).
- ``everyday``: ``EVERYDAY`` sentences composed from WordNet's frequent words (``everyday.everyday_inputs``).
- ``quotes``: sentences of Debian's full ``fortunes`` databases (fortunes-min is a small part of them).
- ``signs``: ``SIGNS`` sign-like phrases, sign templates over WordNet's nouns of places, rooms, food and
  transport that Apertium's dictionary holds (``signs.sign_inputs``).
- ``notices``: ``NOTICES`` notice-like phrases, what signs forbid, ask and warn ("Do not touch the door",
  "No smoking in the lobby", "Caution: wet floor"), over sign verbs and WordNet's nouns (``notices.notice_inputs``).

The first six sources train the model's first stage, the next three join them in its second
(options-adapt.toml): everyday sentences, the kind Tatoeba and signs hold. ``signs`` and ``notices`` join
them where the shipped model is trained on (options-continue.toml).

Sign-length inputs (at most ``SIGN_WORDS`` words) also go in UPPER CASE and Title Case, each translated on
its own (signs and OCR text are often capitalised). Every input and output is checked against the
evaluation sets (``decontam.Decontaminator``: exact and near-duplicate) before it is kept; the
validation pairs of collect.py are never distilled. Teacher outputs are cached per source in
``<work>/distill/`` so an interrupted run resumes. Writes ``<data>/distilled.tsv`` (English TAB Spanish
TAB source), ``<data>/valid_distilled.tsv`` (up to ``VALID_PER_SOURCE`` held-out inputs per source with
Apertium's output: a validation set of the teacher's kind, never trained on) and
``<data>/distill_manifest.json`` (sources, package versions and licences, counts, the
evaluation files' sha256).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.models.recipes.nmt.collect import download, is_valid_split, licence_of, unpack
from harness.models.recipes.nmt.decontam import Decontaminator, evaluation_files
from harness.models.recipes.nmt.everyday import everyday_inputs, wordnet_inputs
from harness.models.recipes.nmt.mocatalog import normalize_for_match
from harness.models.recipes.nmt.notices import notice_inputs
from harness.models.recipes.nmt.signs import sign_inputs
from harness.paths import project_root

MANIFEST_VERSION = 1
PROJECT = project_root()
BIDIX = Path("/usr/share/apertium/apertium-eng-spa/eng-spa.autobil.bin")
SIGN_WORDS = 4
MIN_WORDS, MAX_WORDS = 3, 40  # sentences kept from prose sources
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
BAD_CHARS = re.compile(r"[<>{}\[\]\\|_=@#$%^*~`]|https?:|www\.|\.\w{2,4}/")
SOURCES = ("dictionary", "phrases", "ui", "descriptions", "fortunes", "backtranslated", "wordnet", "everyday", "quotes", "signs", "notices")
PHRASES = 60_000
SIGNS = 12_000
NOTICES = 12_000
EVERYDAY = 100_000
GLOSSES = 50_000
VALID_PER_SOURCE = 500  # held-out inputs per source (collect.py's hash rule), translated for validation only
DICT_POS = {"<n>", "<adj>", "<vblex>", "<adv>", "<np>", "<ij>", "<vbmod>", "<cnjadv>", "<pr>", "<prn>", "<num>"}


def _cyclic_states(arcs: dict[int, list[tuple[int, str]]]) -> dict[int, int]:
    """Each state's strongly connected component (iterative Tarjan); states on a cycle share one."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    component: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    for root in list(arcs):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            state, edge = work.pop()
            if edge == 0:
                index[state] = low[state] = len(index)
                stack.append(state)
                on_stack.add(state)
            targets = arcs.get(state, [])
            if edge < len(targets):
                work.append((state, edge + 1))
                target = targets[edge][0]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[state] = min(low[state], index[target])
                continue
            if low[state] == index[state]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = state
                    if member == state:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[state])
    return component


def bidix_lemmas(att: str) -> list[tuple[str, str]]:
    """(English lemma, part of speech) of every entry of a bilingual dictionary printed by ``lt-print``.

    ``att`` is AT&T text: ``src dst input output weight`` arcs, ``state weight`` finals, ``--`` between
    sections; ε is the empty symbol. A lemma is the input characters up to the first tag symbol (``<n>``).
    Arcs inside a cycle (the regular-expression parts: numbers, any letter repeated) are not followed, so
    only the dictionary's listed entries come out.
    """
    sections: list[dict[int, list[tuple[int, str]]]] = [defaultdict(list)]
    for line in att.splitlines():
        if line == "--":
            sections.append(defaultdict(list))
            continue
        fields = line.split("\t")
        if len(fields) >= 4:
            sections[-1][int(fields[0])].append((int(fields[1]), fields[2]))
    found: set[tuple[str, str]] = set()
    for arcs in sections:
        component = _cyclic_states(arcs)
        stack: list[tuple[int, str]] = [(0, "")]
        while stack:
            state, text = stack.pop()
            for target, symbol in arcs.get(state, ()):
                if symbol.startswith("<") and len(symbol) > 2:
                    if text.strip():
                        found.add((text.strip(), symbol))
                    continue
                if component.get(target, target) == component.get(state, state):
                    continue  # an arc inside a cycle (or a loop on one state)
                character = "" if symbol in ("ε", "@0@", "@_EPSILON_SYMBOL_@") else " " if symbol == "@_SPACE_@" else symbol
                stack.append((target, text + character))
    return sorted(found)


@functools.cache
def bidix_entries() -> list[tuple[str, str]]:
    """The word and phrase entries of Apertium's eng-spa bilingual dictionary, printed and read once per process."""
    return dictionary_entries(print_bidix())


def print_bidix(bidix: Path = BIDIX) -> str:
    """The bilingual dictionary as lt-print's AT&T text."""
    done = subprocess.run(["lt-print", str(bidix)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"distill: lt-print failed on {bidix} ({done.stderr.strip()[:200]}); apt-get install lttoolbox-dev")
    return done.stdout


def dictionary_entries(att: str) -> list[tuple[str, str]]:
    """(lemma, part of speech) of the dictionary's word and phrase entries: no numbers, at most SIGN_WORDS words."""
    entries = {}
    for lemma, pos in bidix_lemmas(att):
        if pos in DICT_POS and not BAD_CHARS.search(lemma) and not re.search(r"\d", lemma) and len(lemma.split()) <= SIGN_WORDS:
            entries.setdefault(lemma, pos)
    return list(entries.items())


def phrase_inputs(entries: list[tuple[str, str]], count: int, seed: int = 0) -> list[str]:
    """Short synthetic phrases composed from dictionary words.

    Adjective + noun, noun + noun, verb + the + noun, "no" + noun, "do not" + verb: word order and agreement
    that single entries do not teach.
    """
    rng = random.Random(seed)
    by_pos: dict[str, list[str]] = defaultdict(list)
    for lemma, pos in entries:
        if " " not in lemma and lemma.islower():
            by_pos[pos].append(lemma)
    nouns, adjectives, verbs = by_pos["<n>"], by_pos["<adj>"], by_pos["<vblex>"]
    makers = [
        lambda: f"{rng.choice(adjectives)} {rng.choice(nouns)}",
        lambda: f"{rng.choice(nouns)} {rng.choice(nouns)}",
        lambda: f"{rng.choice(verbs)} the {rng.choice(nouns)}",
        lambda: f"no {rng.choice(nouns)}",
        lambda: f"do not {rng.choice(verbs)}",
        lambda: f"the {rng.choice(adjectives)} {rng.choice(nouns)}",
    ]
    phrases: dict[str, None] = {}
    while len(phrases) < count:
        phrases[rng.choice(makers)()] = None
    return list(phrases)


def sentences(text: str) -> list[str]:
    """Sentences of a paragraph of prose, kept when they are plain text of MIN_WORDS to MAX_WORDS words."""
    out = []
    for sentence in SENTENCE_END.split(" ".join(text.split())):
        words = sentence.split()
        if (
            MIN_WORDS <= len(words) <= MAX_WORDS
            and not BAD_CHARS.search(sentence)
            and sum(c.isalpha() for c in sentence) > 0.6 * len(sentence)
        ):
            out.append(sentence)
    return out


def description_inputs() -> list[str]:
    """Synopses and body sentences of the English package descriptions ``apt-cache dumpavail`` prints."""
    done = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"distill: apt-cache dumpavail failed ({done.stderr.strip()[:200]}); run apt-get update")
    out: list[str] = []
    for stanza in done.stdout.split("\n\n"):
        match = re.search(r"^Description(?:-en)?: ?(.*)\n((?: .*\n?)*)", stanza, flags=re.M)
        if not match:
            continue
        synopsis, body = match.group(1).strip(), match.group(2)
        if synopsis and not BAD_CHARS.search(synopsis) and len(synopsis.split()) >= 2:
            out.append(synopsis[0].upper() + synopsis[1:])
        for paragraph in re.split(r"^ \.$", body, flags=re.M):
            lines = [line[1:] for line in paragraph.splitlines() if line.startswith(" ") and not line.startswith("  ")]
            out += sentences(" ".join(lines))
    return list(dict.fromkeys(out))


def package_tree(work: Path, package: str) -> tuple[Path, dict[str, str]]:
    """A Debian package downloaded (not installed) and unpacked under ``work``, and its record (.deb, licence)."""
    deb = download([package], work / "debs")[package]
    tree = unpack(deb, work / "unpacked")
    licence, _ = licence_of(tree, package, {package: tree})
    return tree, {"package": package, "deb": deb.name, "licence": licence}


def fortune_inputs(work: Path, package: str = "fortunes-min") -> tuple[list[str], dict[str, str]]:
    """Sentences of a fortune package's databases, and the package's record (version, licence)."""
    tree, record = package_tree(work, package)
    out: list[str] = []
    for path in sorted((tree / "usr/share/games/fortunes").glob("*")):
        if path.suffix or not path.is_file():  # the .dat indexes and .u8 links
            continue
        for fortune in path.read_text(errors="replace").split("\n%\n"):
            if "\t" not in fortune and not re.search(r"^\s*--", fortune, flags=re.M):
                out += sentences(fortune)
    return list(dict.fromkeys(out)), record


def case_variants(texts: Iterable[str]) -> list[str]:
    """Each text, and for sign-length ones also its UPPER and Title Case forms."""
    out: list[str] = []
    for text in texts:
        out.append(text)
        if len(text.split()) <= SIGN_WORDS:
            out += [text.upper(), text.title()]
    return list(dict.fromkeys(out))


def sample(texts: list[str], limit: int, salt: str) -> list[str]:
    """At most ``limit`` texts, chosen by a hash of each (the same on every machine), in their order."""
    if len(texts) <= limit:
        return texts
    ranked = sorted(texts, key=lambda t: hashlib.sha1(f"{salt}\0{t}".encode()).digest())[:limit]
    keep = set(ranked)
    return [t for t in texts if t in keep]


class Teacher:
    """Apertium (arbench's backend) in ``workers`` pipelines; outputs cached in a TSV per source and direction."""

    def __init__(self, pair: str, workers: int, cache: Path) -> None:
        from harness.mt.apertium import Apertium, ApertiumOptions

        self.pair, self.cache = pair, cache
        self._engines = [Apertium(ApertiumOptions(pair=pair, timeout_s=60.0)) for _ in range(workers)]

    def close(self) -> None:
        for engine in self._engines:
            engine.close()

    def translate(self, texts: list[str], progress: Callable[[int], None] = lambda n: None) -> dict[str, str]:
        """Source → Apertium's translation for every text, reading and extending the cache."""
        done: dict[str, str] = {}
        if self.cache.is_file():
            for line in self.cache.read_text(encoding="utf-8").splitlines():
                source, _, target = line.partition("\t")
                done[source] = target
        todo = [t for t in dict.fromkeys(texts) if t not in done]
        chunks = [todo[i :: len(self._engines)] for i in range(len(self._engines))]
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        with open(self.cache, "a", encoding="utf-8") as out, ThreadPoolExecutor(len(self._engines)) as pool:

            def run(index: int) -> None:
                engine = self._engines[index]
                for start in range(0, len(chunks[index]), 200):
                    batch = chunks[index][start : start + 200]
                    targets = engine.translate(batch)
                    lines = "".join(f"{s}\t{' '.join(t.split())}\n" for s, t in zip(batch, targets, strict=True))
                    out.write(lines)
                    out.flush()
                    done.update(zip(batch, (" ".join(t.split()) for t in targets), strict=True))
                    progress(len(batch))

            list(pool.map(run, range(len(self._engines))))
        return {t: done[t] for t in texts}


def source_inputs(source: str, work: Path, human: list[tuple[str, str]]) -> tuple[list[str], dict[str, Any]]:
    """The raw inputs of one source and its record (where it comes from, its licence)."""
    if source == "dictionary":
        inputs = [lemma for lemma, _ in bidix_entries()]
        return inputs, {"from": str(BIDIX), "licence": "GPL-2 and GPL-2+ (apertium-eng-spa's Debian copyright)", "lemmas": len(inputs)}
    if source == "phrases":
        inputs = phrase_inputs(bidix_entries(), PHRASES)
        origin = f"{PHRASES} phrases composed from {BIDIX.name}'s words (phrase_inputs)"
        return inputs, {"from": origin, "licence": "GPL-2 and GPL-2+ (apertium-eng-spa's Debian copyright)"}
    if source == "ui":
        return list(dict.fromkeys(en for en, _ in human)), {
            "from": "collect.py train.tsv (English msgids)",
            "licence": "each catalog's package (data_manifest.json)",
        }
    if source == "descriptions":
        return description_inputs(), {"from": "apt-cache dumpavail (Debian 12 Packages indexes)", "licence": "each package's licence"}
    if source == "fortunes":
        inputs, package = fortune_inputs(work)
        return inputs, {"from": package["deb"], "licence": package["licence"]}
    if source in ("wordnet", "everyday", "signs", "notices"):
        tree, package = package_tree(work, "wordnet-base")
        wordnet = tree / "usr/share/wordnet"
        known = {lemma for lemma, _ in bidix_entries()} if source != "wordnet" else set()
        if source == "notices":
            origin = f"{NOTICES} notice-like phrases over sign verbs and nouns of {package['deb']} that {BIDIX.name} holds (notice_inputs)"
            return notice_inputs(wordnet, known, NOTICES), {"from": origin, "licence": package["licence"]}
        if source == "signs":
            origin = f"{SIGNS} sign-like phrases over the nouns of {package['deb']} that {BIDIX.name} holds (sign_inputs)"
            return sign_inputs(wordnet, known, SIGNS), {"from": origin, "licence": package["licence"]}
        if source == "everyday":
            origin = f"{EVERYDAY} sentences composed from the frequent words of {package['deb']} (everyday_inputs)"
            return everyday_inputs(wordnet, known, EVERYDAY), {"from": origin, "licence": package["licence"]}
        examples, glosses = wordnet_inputs(wordnet)
        origin = f"{package['deb']}: {len(examples)} example sentences, {min(GLOSSES, len(glosses))} glosses"
        return examples + sample(glosses, GLOSSES, "glosses"), {"from": origin, "licence": package["licence"]}
    if source == "quotes":
        inputs, package = fortune_inputs(work, "fortunes")
        return inputs, {"from": package["deb"], "licence": package["licence"]}
    if source == "backtranslated":
        spanish = list(dict.fromkeys(es for _, es in human))
        return spanish, {"from": "collect.py train.tsv (Spanish msgstrs), Apertium spa-eng", "licence": "each catalog's package"}
    raise SystemExit(f"distill: unknown source {source!r}; valid: {', '.join(SOURCES)}")


def distil(
    source: str, inputs: list[str], blocked: Decontaminator, work: Path, teachers: int
) -> tuple[list[tuple[str, str]], Counter[str]]:
    """Decontaminated (English, Spanish) pairs of one source's inputs, and what was dropped by reason."""
    drops: Counter[str] = Counter()
    kept_inputs = []
    for text in inputs:
        why = blocked.match(text)
        if why:
            drops[f"eval_{why}"] += 1
        else:
            kept_inputs.append(text)
    pair = "spa-eng" if source == "backtranslated" else "eng-spa"
    teacher = Teacher(pair, teachers, work / "distill" / f"{source}.{pair}.tsv")
    started, count = time.perf_counter(), [0]

    def progress(n: int) -> None:
        count[0] += n
        if count[0] % 5000 < n:
            print(f"  {source}: {count[0]}/{len(kept_inputs)} translated ({time.perf_counter() - started:.0f} s)", flush=True)

    try:
        outputs = teacher.translate(kept_inputs, progress)
    finally:
        teacher.close()
    pairs = []
    for text in kept_inputs:
        en, es = (outputs[text], text) if source == "backtranslated" else (text, outputs[text])
        if not en.strip() or not es.strip() or normalize_for_match(en) == normalize_for_match(es):
            drops["untranslated"] += 1
        elif why := blocked.pair_match(en, es):
            drops[f"eval_{why}"] += 1
        else:
            pairs.append((en, es))
    return pairs, drops


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=PROJECT / "build/nmt")
    parser.add_argument("--data", type=Path, default=PROJECT / "build/nmt/data", help="collect.py's output; distilled.tsv goes here")
    parser.add_argument("--max-per-source", type=int, default=150_000)
    parser.add_argument("--teachers", type=int, default=3, help="Apertium pipelines run side by side")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=SOURCES)
    args = parser.parse_args()
    started = time.perf_counter()
    blocked = Decontaminator.from_files(evaluation_files())
    human = [
        (en, es) for en, _, es in (line.partition("\t") for line in (args.data / "train.tsv").read_text(encoding="utf-8").splitlines())
    ]
    records: dict[str, dict[str, Any]] = {}
    rows: list[tuple[str, str, str]] = []
    valid_rows: list[tuple[str, str, str]] = []
    for source in args.sources:
        inputs, record = source_inputs(source, args.work, human)
        held_out: list[str] = []
        if source != "backtranslated":  # collect.py's validation rule: held-out strings never reach training
            held_out = sample([t for t in inputs if is_valid_split(t, 15)], VALID_PER_SOURCE, f"{source}-valid")
            inputs = [t for t in inputs if not is_valid_split(t, 15)]
        inputs = sample(inputs, args.max_per_source, source)
        if source in ("dictionary", "phrases", "ui", "signs", "notices"):
            inputs = case_variants(inputs)
        pairs, drops = distil(source, inputs, blocked, args.work, args.teachers)
        rows += [(en, es, source) for en, es in pairs]
        valid_pairs = distil(source, held_out, blocked, args.work, args.teachers)[0] if held_out else []
        valid_rows += [(en, es, source) for en, es in valid_pairs]
        records[source] = record | {"inputs": len(inputs), "pairs": len(pairs), "drops": dict(drops), "valid_pairs": len(valid_pairs)}
        print(f"distill {source}: {len(pairs)} pairs from {len(inputs)} inputs; dropped {dict(drops)}", flush=True)
    for name, written in (("distilled.tsv", rows), ("valid_distilled.tsv", valid_rows)):
        with open(args.data / name, "w", encoding="utf-8") as out:
            out.writelines(f"{en}\t{es}\t{source}\n" for en, es, source in written)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "teacher": f"Apertium eng-spa / spa-eng (harness.mt.apertium), apertium-eng-spa {_version('apertium-eng-spa')}",
        "apertium": _version("apertium"),
        "decontamination": {"against_sha256": blocked.sha256, "rule": "decontam.py: exact normalized line, or near (word trigrams)"},
        "sources": records,
        "pairs": len(rows),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    (args.data / "distill_manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v["pairs"] for k, v in records.items()}))


def _version(package: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
