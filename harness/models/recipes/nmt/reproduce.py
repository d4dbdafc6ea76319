"""One command for the whole en→es NMT recipe: collect → distill → train → adapt → evaluate → model card.

    python -m harness.models.recipes.nmt.reproduce [--from train] [--limit 200]

Each step runs in its own process (so training's threads, memory and rusage stay its own) with this
Python; a failed step stops the chain with its exit code. Needs Debian's apt-get and dpkg (after
``apt-get update``) for the collect step, Apertium eng-spa and lttoolbox's ``lt-print`` (lttoolbox-dev)
for the distill step, and the packages torch, transformers, sentencepiece, ctranslate2 and sacrebleu.
Training has two stages: ``train`` (options.toml, every source but the everyday ones, into build/nmt/run)
and ``adapt`` (options-adapt.toml: starts from the first stage's best checkpoint and vocabulary, with the
everyday sources of distill.py leading the mix, into build/nmt/adapt); the second stage's model ships.
Each resumes from its last checkpoint when it was interrupted (``state.pt`` in its folder);
``--device cuda`` trains on a GPU with the same recipe. ``--from`` restarts at a later step, reusing what the earlier ones left in
build/nmt/; ``--limit`` passes to evaluate.py for a quick smoke run; ``--max-train-s`` and ``--adapt-train-s``
to train.py (a longer budget than a stage's own continues the same run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from harness.models.recipes.nmt.checkpoints import DECODING
from harness.paths import project_root

HERE = Path(__file__).resolve().parent  # the recipe's data files ship beside it
PROJECT = project_root()
STEPS = ("collect", "distill", "train", "adapt", "evaluate", "card")


def command(step: str, args: argparse.Namespace) -> list[str]:
    """The command line of one step."""
    data, model = str(args.work / "data"), str(args.model)
    extra = {
        "collect": ["--work", str(args.work), "--out", data],
        "distill": ["--work", str(args.work), "--data", data],
        "train": ["--data", data, "--work", str(args.work / "run"), "--out", str(args.work / "stage1"), "--device", args.device,
                  *(["--max-train-s", str(args.max_train_s)] if args.max_train_s else [])],
        "adapt": ["--data", data, "--options", str(HERE / "options-adapt.toml"), "--init", str(args.work / "run"),
                  "--work", str(args.work / "adapt"), "--out", model, "--device", args.device,
                  *(["--max-train-s", str(args.adapt_train_s)] if args.adapt_train_s else [])],
        "evaluate": ["--model", model, "--hyp-dir", str(args.work / "eval"), *DECODING,
                     *(["--limit", str(args.limit)] if args.limit else [])],
        "card": ["--data", data, "--model", model],
    }[step]
    module = "train" if step == "adapt" else step
    return [sys.executable, "-m", f"harness.models.recipes.nmt.{module}", *extra]


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="start", choices=STEPS, default="collect")
    parser.add_argument("--work", type=Path, default=PROJECT / "build/nmt")
    parser.add_argument("--model", type=Path, default=PROJECT / "models/nmt-en-es")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="where training runs: cpu or cuda")
    parser.add_argument("--max-train-s", type=float, default=0.0, help="first stage's training-loop seconds instead of options.toml's")
    parser.add_argument("--adapt-train-s", type=float, default=0.0, help="second stage's training-loop seconds instead of its options'")
    args = parser.parse_args()
    for step in STEPS[STEPS.index(args.start):]:
        started = time.perf_counter()
        print(f"== nmt {step}: {' '.join(command(step, args))}", flush=True)
        done = subprocess.run(command(step, args), cwd=PROJECT, check=False)
        if done.returncode != 0:
            sys.exit(f"nmt {step} failed (exit {done.returncode}); fix it and rerun with --from {step}")
        print(f"== nmt {step}: done in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
