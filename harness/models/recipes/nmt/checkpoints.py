"""Score one training checkpoint on every set, for the model card's comparisons (levers, the recipe's budget).

    python -m harness.models.recipes.nmt.checkpoints --run build/nmt/run --label "first stage only" --out models/nmt-en-es/levers.json

Reads ``<run>/state.pt`` (step, training seconds, validation NLL of its best checkpoint; or the run's
``train_figures.json`` where state.pt is gone, or for ``--weights <run>/averaged.pt``, train.py's checkpoint
average) and ``<run>/best.pt`` (or ``--weights``), exports the weights as train.py does into a scratch model folder under ``build/nmt/``,
runs evaluate.py on it with the recipe's decoding settings, and appends a record (label, run, step,
training-loop seconds, validation NLL, the weights' sha256, the evaluation) to the JSON list ``--out``.
A record with the same label is replaced. Nothing is written into the model folder but ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.paths import project_root

HERE = Path(__file__).resolve().parent
PROJECT = project_root()
# The decoding chosen on the validation sets (docs/mt.md); evaluate.py's defaults are the decoder's own.
DECODING = ["--max-length-ratio", "3", "--repetition-penalty", "1.2", "--no-repeat-ngram-size", "3"]


def checkpoint_record(run: Path, weights: Path) -> dict:
    """Step, training seconds and validation NLL of a run's best checkpoint.

    From its ``state.pt``, or, for a finished run kept without it, its ``train_figures.json``.
    """
    import torch

    record = {"run": str(run), "weights": str(weights), "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    averaged = weights.name == "averaged.pt"  # train.py's average of its last evaluations
    if averaged or not (run / "state.pt").is_file():
        figures = json.loads((run / "train_figures.json").read_text())
        if averaged:
            avg = figures["averaging"]
            step, valid_nll, extra = avg["steps"][-1], avg["valid_nll"], {"averaged_steps": avg["steps"]}
        else:
            step, valid_nll, extra = figures["best_step"], figures["best_valid_nll"], {}
        at_step = next((h for h in figures["history"] if h["step"] == step), {})
        return record | extra | {"step": step, "train_loop_s": at_step.get("elapsed_s"), "valid_nll": valid_nll,
                                 "last_step": figures["steps"], "trained_s": figures["train_loop_wall_s"]}
    state = torch.load(run / "state.pt", weights_only=False, map_location="cpu")
    best = next((h for h in state["history"] if h["step"] == state["best_step"]), {})
    return record | {"step": state["best_step"], "train_loop_s": best.get("elapsed_s"), "valid_nll": round(state["best"], 4),
                     "last_step": state["step"], "trained_s": round(state["trained_s"], 1)}


def export_checkpoint(run: Path, weights: Path, options: Path, out: Path) -> None:
    """The weights as a shippable model folder (``hf/`` and ``ct2/``), the way train.py exports its best checkpoint."""
    import sentencepiece as spm
    import torch

    from harness.models.recipes.nmt.train import TrainOptions, build_model, export, write_tokenizer

    opts = TrainOptions.from_toml(options)
    sp = spm.SentencePieceProcessor(model_file=str(run / "spm.model"))
    model = build_model(opts, sp.get_piece_size() + 1)
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    tok = write_tokenizer(run / "spm.model", out / "tokenizer")
    export(model, tok, out)


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a train.py --work folder (state.pt, spm.model, best.pt)")
    parser.add_argument("--weights", type=Path, help="default: <run>/best.pt")
    parser.add_argument("--options", type=Path, default=HERE / "options.toml", help="the run's options (architecture)")
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON list the record is added to")
    parser.add_argument("--compute-types", nargs="+", default=["float32"], help="evaluate.py's (float32, int8, apertium)")
    args = parser.parse_args()
    weights = args.weights or args.run / "best.pt"
    for needed in (args.run / "spm.model", weights):
        if not needed.is_file():
            sys.exit(f"checkpoints: {needed} missing; --run must be a train.py --work folder")
    if not (args.run / "state.pt").is_file() and not (args.run / "train_figures.json").is_file():
        sys.exit(f"checkpoints: {args.run} has neither state.pt nor train_figures.json; --run must be a train.py --work folder")
    record = {"label": args.label, **checkpoint_record(args.run, weights)}
    (PROJECT / "build/nmt").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=PROJECT / "build/nmt") as scratch:
        model = Path(scratch) / "model"
        export_checkpoint(args.run, weights, args.options, model)
        evaluation = Path(scratch) / "eval.json"
        subprocess.run([sys.executable, "-m", "harness.models.recipes.nmt.evaluate", "--model", str(model), "--out", str(evaluation),
                        "--hyp-dir", str(PROJECT / "build/nmt/eval-checkpoints" / args.run.name), *DECODING,
                        "--compute-types", *args.compute_types], check=True)
        record["eval"] = json.loads(evaluation.read_text())
    records = json.loads(args.out.read_text()) if args.out.is_file() else []
    records = [r for r in records if r["label"] != args.label] + [record]
    args.out.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({ct: {s: r["chrf"] for s, r in rows.items()} for ct, rows in record["eval"]["results"].items()}))


if __name__ == "__main__":
    main()
