"""Score the shipped CTranslate2 model on Tatoeba en–es and FLORES-101 devtest en→es, float32 and int8.

    python -m harness.models.recipes.nmt.evaluate --model models/nmt-en-es [--beam 4] [--limit 200]

For each compute type the model is loaded once, warmed up on 32 sentences of the set (not timed), then
the whole set is translated; BLEU and chrF come from sacrebleu (signatures recorded), speed is sentences
and generated target tokens per second of ``translate_batch`` time (SentencePiece excluded). Results go
to ``<model>/eval.json``; hypotheses to ``build/nmt/eval/`` (never into the model folder). Tatoeba is
scored line by line against the one reference of each line, as the OPUS-MT model cards do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import sacrebleu
import sentencepiece as spm

from harness.paths import data_root, project_root

EVAL_VERSION = 1
HERE = Path(__file__).resolve().parent  # the recipe's data files ship beside it
PROJECT = project_root()
TEST_SETS = {
    "tatoeba-v2021-08-07": ("tatoeba_test_v2021-08-07/eng-spa.eng", "tatoeba_test_v2021-08-07/eng-spa.spa"),
    "flores101-devtest": ("flores101_devtest/eng.devtest", "flores101_devtest/spa.devtest"),
}


@dataclass(frozen=True)
class EvalOptions:
    """How the model is run: beam width, CPU threads, sentences per CTranslate2 batch."""

    beam: int = 4
    threads: int = 2
    max_batch: int = 64
    limit: int = 0  # 0 = every line


IN_DOMAIN = "debian-ui-valid"  # collect.py's held-out validation pairs: the training domain, not a test set


def read_set(name: str, limit: int) -> tuple[list[str], list[str]]:
    """Source and reference lines of one test set (shared data folder, or build/nmt/data/valid.tsv)."""
    if name == IN_DOMAIN:
        pairs = [line.split("\t", 1) for line in (PROJECT / "build/nmt/data/valid.tsv").read_text().splitlines()]
        sources, refs = [p[0] for p in pairs], [p[1] for p in pairs]
    else:
        src, ref = (data_root() / rel for rel in TEST_SETS[name])
        sources, refs = src.read_text().splitlines(), ref.read_text().splitlines()
    return (sources[:limit], refs[:limit]) if limit else (sources, refs)


def translate(translator: ctranslate2.Translator, sp: spm.SentencePieceProcessor, sources: list[str],
              opts: EvalOptions) -> tuple[list[str], float, int]:
    """Hypotheses, seconds spent in translate_batch and target tokens generated."""
    pieces = sp.encode(sources, out_type=str)
    batch = [[*p, "</s>"] for p in pieces]
    start = time.perf_counter()
    results = translator.translate_batch(batch, beam_size=opts.beam, max_batch_size=opts.max_batch,
                                         max_decoding_length=256)
    elapsed = time.perf_counter() - start
    outputs = [r.hypotheses[0] for r in results]
    return [sp.decode_pieces(o) for o in outputs], elapsed, sum(len(o) for o in outputs)


def score(hyps: list[str], refs: list[str]) -> dict:
    """Corpus BLEU and chrF (sacrebleu) with their signatures."""
    bleu, chrf = sacrebleu.BLEU(), sacrebleu.CHRF()
    b, c = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs])
    return {"bleu": round(b.score, 2), "chrf": round(c.score, 2), "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature())}


def evaluate(model: Path, compute_type: str, opts: EvalOptions, hyp_dir: Path, sets: list[str]) -> dict:
    """The named sets at one compute type."""
    translator = ctranslate2.Translator(str(model / "ct2"), device="cpu", compute_type=compute_type,
                                        intra_threads=opts.threads, inter_threads=1)
    sp = spm.SentencePieceProcessor(model_file=str(model / "ct2/source.spm"))
    rows = {}
    for name in sets:
        sources, refs = read_set(name, opts.limit)
        translate(translator, sp, sources[:32], opts)  # warm-up, not timed
        hyps, seconds, tokens = translate(translator, sp, sources, opts)
        (hyp_dir / f"{name}.{compute_type}.hyp").write_text("\n".join(hyps) + "\n")
        rows[name] = {"sentences": len(sources), **score(hyps, refs), "translate_s": round(seconds, 2),
                      "sentences_per_s": round(len(sources) / seconds, 1),
                      "target_tokens_per_s": round(tokens / seconds, 1)}
        print(compute_type, name, json.dumps(rows[name]), flush=True)
    return rows


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=PROJECT / "models/nmt-en-es")
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="first N lines of each set only (smoke runs)")
    parser.add_argument("--compute-types", nargs="+", default=["float32", "int8"])
    parser.add_argument("--hyp-dir", type=Path, default=PROJECT / "build/nmt/eval")
    parser.add_argument("--sets", nargs="+", default=[*TEST_SETS, IN_DOMAIN], choices=[*TEST_SETS, IN_DOMAIN])
    parser.add_argument("--out", type=Path, help="default: <model>/eval.json")
    parser.add_argument("--merge", action="store_true", help="add these results to an existing --out file")
    args = parser.parse_args()
    opts = EvalOptions(beam=args.beam, threads=args.threads, limit=args.limit)
    args.hyp_dir.mkdir(parents=True, exist_ok=True)
    results = {ct: evaluate(args.model, ct, opts, args.hyp_dir, args.sets) for ct in args.compute_types}
    out = args.out or args.model / "eval.json"
    if args.merge and out.is_file():
        earlier = json.loads(out.read_text())["results"]
        results = {ct: {**earlier.get(ct, {}), **rows} for ct, rows in results.items()}
    report = {
        "eval_version": EVAL_VERSION, "beam": opts.beam, "threads": opts.threads, "max_batch": opts.max_batch,
        "limit": opts.limit, "ctranslate2": ctranslate2.__version__, "sacrebleu": sacrebleu.__version__,
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor(),
                    "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        "speed_note": "rough: shared machine, other jobs running; translate_batch time only",
        "results": results,
    }
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
