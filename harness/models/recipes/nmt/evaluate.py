"""Score the CTranslate2 model and Apertium on the test sets and the validation sets, float32 and int8.

    python -m harness.models.recipes.nmt.evaluate --model models/nmt-en-es [--beam 4] [--limit 200]
    python -m harness.models.recipes.nmt.evaluate --sets debian-ui-valid distilled-valid --max-length-ratio 2 ...

Test sets: Tatoeba en–es, FLORES-101 devtest en→es and the sign phrasebook (harness/data/phrasebook.tsv,
en→es). Validation sets, where decoding settings are chosen: collect.py's held-out UI pairs
(``debian-ui-valid``, human references) and distill.py's held-out inputs (``distilled-valid``, Apertium's
output as the reference: it measures how closely the student follows its teacher). For each compute type
the model is loaded once, warmed up on 32 sentences of the set (not timed), then the whole set is
translated; BLEU and chrF come from sacrebleu (signatures recorded), speed is sentences and generated
target tokens per second of ``translate_batch`` time (SentencePiece excluded). Each set also gets
``max_length_ratio`` (the most target tokens per source token of any line) and ``loops`` (lines whose
output repeats one letter five times running, one word four times running or one 3-gram three times:
degenerate output, ``harness.metrics.text.degenerate``). ``apertium``
in ``--compute-types`` scores arbench's Apertium backend on the same lines. Results go to
``<model>/eval.json``; hypotheses to ``build/nmt/eval/`` (never into the model folder). Tatoeba is scored
line by line against the one reference of each line, as the OPUS-MT model cards do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import ctranslate2
import sacrebleu
import sentencepiece as spm

from harness.metrics.text import degenerate
from harness.paths import data_root, project_root

EVAL_VERSION = 2
HERE = Path(__file__).resolve().parent  # the recipe's data files ship beside it
PROJECT = project_root()
TEST_SETS = {
    "tatoeba-v2021-08-07": ("tatoeba_test_v2021-08-07/eng-spa.eng", "tatoeba_test_v2021-08-07/eng-spa.spa"),
    "flores101-devtest": ("flores101_devtest/eng.devtest", "flores101_devtest/spa.devtest"),
}


@dataclass(frozen=True)
class EvalOptions:
    """How the model is run: beam width, CPU threads, sentences per CTranslate2 batch, and the decoding limits.

    The limits mean what ``MtOptions``' do: target tokens per source token, repetition penalty, no-repeat
    n-gram size.
    """

    beam: int = 4
    threads: int = 2
    max_batch: int = 64
    limit: int = 0  # 0 = every line
    max_length_ratio: float = 0.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0


IN_DOMAIN = "debian-ui-valid"  # collect.py's held-out validation pairs: the training domain, not a test set
DISTILLED_VALID = "distilled-valid"  # distill.py's held-out inputs with Apertium's output
PHRASEBOOK = "phrasebook"  # the sign phrasebook, en→es: a test set
VALID_SETS = (IN_DOMAIN, DISTILLED_VALID)


def read_set(name: str, limit: int, data: Path = PROJECT / "build/nmt/data") -> tuple[list[str], list[str]]:
    """Source and reference lines of one set (shared data folder, the phrasebook, or the recipe's validation files)."""
    if name in VALID_SETS:
        rows = (data / ("valid.tsv" if name == IN_DOMAIN else "valid_distilled.tsv")).read_text(encoding="utf-8").splitlines()
        pairs = [line.split("\t") for line in rows if "\t" in line]
        sources, refs = [p[0] for p in pairs], [p[1] for p in pairs]
    elif name == PHRASEBOOK:
        from harness.sources.phrasebook import load_phrasebook

        entries = load_phrasebook()
        sources, refs = [e.en for e in entries], [e.es for e in entries]
    else:
        src, ref = (data_root() / rel for rel in TEST_SETS[name])
        sources, refs = src.read_text().splitlines(), ref.read_text().splitlines()
    return (sources[:limit], refs[:limit]) if limit else (sources, refs)


def translate(translator: ctranslate2.Translator, sp: spm.SentencePieceProcessor, sources: list[str],
              opts: EvalOptions) -> tuple[list[str], float, list[int], list[int]]:
    """Hypotheses, seconds spent in translate_batch, and source and target tokens per line.

    Lines are decoded in batches of similar length, each bounded as ``MtOptions.decoding_limit`` bounds it.
    """
    from harness.mt.base import MtOptions

    limits = MtOptions(max_length_ratio=opts.max_length_ratio)
    pieces = [[*p, "</s>"] for p in sp.encode(sources, out_type=str)]
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
    outputs: list[list[str]] = [[] for _ in pieces]
    elapsed = 0.0
    for start in range(0, len(order), opts.max_batch):
        chunk = order[start : start + opts.max_batch]
        batch = [pieces[i] for i in chunk]
        began = time.perf_counter()
        results = translator.translate_batch(
            batch, beam_size=opts.beam, max_decoding_length=limits.decoding_limit(max(map(len, batch))),
            repetition_penalty=opts.repetition_penalty, no_repeat_ngram_size=opts.no_repeat_ngram_size)
        elapsed += time.perf_counter() - began
        for i, result in zip(chunk, results, strict=True):
            outputs[i] = result.hypotheses[0]
    return [sp.decode_pieces(o) for o in outputs], elapsed, [len(p) for p in pieces], [len(o) for o in outputs]


def apertium_translate(sources: list[str]) -> tuple[list[str], float]:
    """Apertium's translations (arbench's backend, one line at a time) and the seconds they took."""
    from harness.mt.apertium import Apertium, ApertiumOptions

    engine = Apertium(ApertiumOptions(pair="eng-spa"))
    try:
        start = time.perf_counter()
        hyps = engine.translate(sources)
        return hyps, time.perf_counter() - start
    finally:
        engine.close()


def score(hyps: list[str], refs: list[str]) -> dict:
    """Corpus BLEU and chrF (sacrebleu) with their signatures."""
    bleu, chrf = sacrebleu.BLEU(), sacrebleu.CHRF()
    b, c = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs])
    return {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature())}


def evaluate(model: Path, compute_type: str, opts: EvalOptions, hyp_dir: Path, sets: list[str]) -> dict:
    """The named sets at one compute type ("apertium": Apertium instead of the model)."""
    sp = spm.SentencePieceProcessor(model_file=str(model / "ct2/source.spm"))
    translator = None
    if compute_type != "apertium":
        translator = ctranslate2.Translator(str(model / "ct2"), device="cpu", compute_type=compute_type,
                                            intra_threads=opts.threads, inter_threads=1)
    rows = {}
    for name in sets:
        sources, refs = read_set(name, opts.limit)
        if translator is None:
            hyps, seconds = apertium_translate(sources)
            tokens_in = [len(p) + 1 for p in sp.encode(sources)]
            tokens_out = [len(p) for p in sp.encode(hyps)]  # the model's tokens, for a comparable ratio
        else:
            translate(translator, sp, sources[:32], opts)  # warm-up, not timed
            hyps, seconds, tokens_in, tokens_out = translate(translator, sp, sources, opts)
        (hyp_dir / f"{name}.{compute_type}.hyp").write_text("\n".join(hyps) + "\n")
        rows[name] = {"sentences": len(sources), **score(hyps, refs), "translate_s": round(seconds, 2),
                      "sentences_per_s": round(len(sources) / seconds, 1),
                      "target_tokens_per_s": round(sum(tokens_out) / seconds, 1),
                      "max_length_ratio": round(max(o / i for o, i in zip(tokens_out, tokens_in, strict=True)), 2),
                      "loops": sum(degenerate(h) for h in hyps)}
        print(compute_type, name, json.dumps(rows[name]), flush=True)
    return rows


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=PROJECT / "models/nmt-en-es")
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="first N lines of each set only (smoke runs)")
    parser.add_argument("--compute-types", nargs="+", default=["float32", "int8", "apertium"])
    parser.add_argument("--hyp-dir", type=Path, default=PROJECT / "build/nmt/eval")
    every = [*TEST_SETS, PHRASEBOOK, *VALID_SETS]
    parser.add_argument("--sets", nargs="+", default=every, choices=every)
    parser.add_argument("--max-length-ratio", type=float, default=0.0)
    parser.add_argument("--repetition-penalty", type=float, default=1.0)
    parser.add_argument("--no-repeat-ngram-size", type=int, default=0)
    parser.add_argument("--out", type=Path, help="default: <model>/eval.json")
    parser.add_argument("--merge", action="store_true", help="add these results to an existing --out file")
    args = parser.parse_args()
    opts = EvalOptions(beam=args.beam, threads=args.threads, limit=args.limit, max_length_ratio=args.max_length_ratio,
                       repetition_penalty=args.repetition_penalty, no_repeat_ngram_size=args.no_repeat_ngram_size)
    args.hyp_dir.mkdir(parents=True, exist_ok=True)
    results = {ct: evaluate(args.model, ct, opts, args.hyp_dir, args.sets) for ct in args.compute_types}
    out = args.out or args.model / "eval.json"
    if args.merge and out.is_file():
        earlier = json.loads(out.read_text())["results"]
        results = {ct: {**earlier.get(ct, {}), **rows} for ct, rows in results.items()}
    report = {
        "eval_version": EVAL_VERSION, "decoding": asdict(opts), "beam": opts.beam, "threads": opts.threads,
        "max_batch": opts.max_batch,
        "limit": opts.limit, "ctranslate2": ctranslate2.__version__, "sacrebleu": sacrebleu.__version__,
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor(),
                    "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        "speed_note": "rough: shared machine, other jobs running; translate_batch time only",
        "results": results,
    }
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
