"""Validation NLL of model folders per validation source: how two models compare before any test set is read.

    python -m harness.models.recipes.nmt.validation models/nmt-en-es build/nmt/model-continue

train.py reports one validation NLL over all its validation pairs; a run whose mix adds a source also adds that
source's held-out inputs, so its figure is not comparable with an earlier model's. This scores each model folder
(a shipped one, or train.py's ``--out``: its ``hf/`` weights and SentencePiece model) on the same pairs, split by
where they come from: collect.py's held-out catalog pairs (``human``) and each source of distill.py's
``valid_distilled.tsv``. Prints, and writes with ``--out``, per folder and source the mean per-token NLL (nats, no
label smoothing) and the target tokens it is over, and ``all`` (every pair). ``--post-edits please`` scores the
distilled pairs against the teacher's output corrected as ``teacher_post_edits`` corrects it (postedit.py), for
models trained with that option; by default against Apertium's own output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.paths import project_root

if TYPE_CHECKING:
    from harness.models.recipes.nmt.train import TrainOptions

HERE = Path(__file__).resolve().parent
PROJECT = project_root()


def validation_sets(data: Path, edits: tuple[str, ...] = ()) -> dict[str, list[tuple[str, str]]]:
    """(English, Spanish) validation pairs by source: ``human`` (valid.tsv), then each source of valid_distilled.tsv.

    ``edits``: postedit.py's corrections, applied to the distilled pairs' Spanish.
    """
    from harness.models.recipes.nmt.postedit import check_edits, post_edit
    from harness.models.recipes.nmt.train import read_pairs

    check_edits(edits)

    sets: dict[str, list[tuple[str, str]]] = {"human": read_pairs(data / "valid.tsv")}
    distilled = data / "valid_distilled.tsv"
    if distilled.is_file():
        for line in distilled.read_text(encoding="utf-8").splitlines():
            en, es, source = line.split("\t")
            sets.setdefault(source, []).append((en, post_edit(en, es, source, edits)))
    return sets


def nll_by_source(folder: Path, sets: dict[str, list[tuple[str, str]]], opts: TrainOptions, device: str = "cpu") -> dict[str, dict]:
    """{source: {"nll": nats/token, "tokens": target tokens}} of the model in ``folder`` (its ``hf/``), and "all"."""
    import sentencepiece as spm

    from harness.models.recipes.nmt.train import build_model, encode, init_weights, valid_loss, zero_pad_row

    sp = spm.SentencePieceProcessor(model_file=str(folder / "hf" / "source.spm"))
    model = build_model(opts, sp.get_piece_size() + 1).to(device)
    init_weights(model, folder, device)
    zero_pad_row(model, model.config.pad_token_id)
    out: dict[str, dict] = {}
    total_nats = 0.0
    for source, pairs in sets.items():
        examples = encode(pairs, sp, opts.max_tokens)
        tokens = sum(len(target) for _, target in examples)  # every target token is scored (EOS included)
        nll = valid_loss(model, examples, model.config.pad_token_id, opts.bf16, device)
        total_nats += nll * tokens
        out[source] = {"nll": round(nll, 4), "tokens": tokens}
    tokens = sum(row["tokens"] for row in out.values())
    out["all"] = {"nll": round(total_nats / tokens, 4), "tokens": tokens}  # per-token NLL sums across sources
    return out


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="model folders with hf/ (models/nmt-en-es, train.py's --out)")
    parser.add_argument("--data", type=Path, default=PROJECT / "build/nmt/data", help="collect.py's and distill.py's output")
    parser.add_argument("--options", type=Path, default=HERE / "options-continue.toml", help="the models' architecture")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="JSON file the figures are written to")
    parser.add_argument("--post-edits", nargs="*", default=[], help="teacher_post_edits for the distilled pairs (e.g. please closed)")
    args = parser.parse_args()
    for needed in (args.data / "valid.tsv", *(folder / "hf" / "model.safetensors" for folder in args.folders)):
        if not needed.is_file():
            sys.exit(f"validation: {needed} missing; give model folders with hf/ and --data with collect.py's valid.tsv")
    from harness.models.recipes.nmt.train import TrainOptions

    sets, opts = validation_sets(args.data, tuple(args.post_edits)), TrainOptions.from_toml(args.options)
    figures = {str(folder): nll_by_source(folder, sets, opts, args.device) for folder in args.folders}
    for folder, rows in figures.items():
        print(folder, json.dumps({source: row["nll"] for source, row in rows.items()}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
