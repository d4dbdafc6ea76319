"""Write the model card (``models/nmt-en-es/README.md``) from the recipe's JSON outputs only.

    python -m harness.models.recipes.nmt.card --data build/nmt/data --model models/nmt-en-es

Reads ``<data>/manifest.json`` (collect.py; copied beside the model as ``data_manifest.json``),
``<model>/train_figures.json`` (train.py) and ``<model>/eval.json`` (evaluate.py). No figure is typed in
by hand except the published OPUS-MT scores below, each with its source.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from harness.paths import project_root

HERE = Path(__file__).resolve().parent  # the recipe's data files ship beside it
PROJECT = project_root()

# Published scores of Helsinki-NLP/opus-mt-en-es (a ~78M-parameter transformer trained on OPUS).
OPUS_MT = {
    "tatoeba": {"bleu": 54.9, "chrf": 72.1, "source": "Hugging Face model card of Helsinki-NLP/opus-mt-en-es, "
                "row `Tatoeba-test.eng.spa` (BLEU 54.9, chr-F 0.721); an older Tatoeba test release than "
                "v2021-08-07, so the comparison is indicative only"},
    "flores": {"bleu": 26.7, "chrf": None, "source": "mozilla/firefox-translations-models evaluation "
               "(`en-es flores-test`, OPUS-MT column), as quoted in shared/reference/published-numbers.md §2.1; "
               "that note says its values match flores-dev, not devtest; no chrF published there"},
}
SET_NAMES = {"tatoeba-v2021-08-07": ("Tatoeba en–es v2021-08-07", "tatoeba"),
             "flores101-devtest": ("FLORES-101 devtest en→es", "flores"),
             "debian-ui-valid": ("held-out Debian UI pairs (in-domain, validation split)", None)}


def mb(size: int) -> str:
    """Bytes as megabytes (10^6) for the card."""
    return f"{size / 1e6:.2f} MB"


def files_table(figures: dict) -> str:
    """Markdown table of the shipped files and their sizes."""
    sizes = figures["file_sizes_bytes"]
    rows = [f"| `{name}` | {size:,} |" for name, size in sizes.items()]
    ct2 = sum(s for n, s in sizes.items() if n.startswith("ct2/"))
    hf = sum(s for n, s in sizes.items() if n.startswith("hf/"))
    return "\n".join(["| file | bytes |", "|---|---:|", *rows,
                      f"| **ct2/ total** | **{ct2:,}** ({mb(ct2)}) |", f"| **hf/ total** | **{hf:,}** ({mb(hf)}) |"])


def data_section(manifest: dict) -> str:
    """Data counts, drop reasons, decontamination and the per-package table."""
    counts = manifest["counts"]
    pkgs = sorted(manifest["packages"], key=lambda p: -p["kept"])
    rows = [f"| {p['name']} | {p['version']} | {p['catalogs']} | {p['messages']:,} | {p['kept']:,} | {p['licence'][:90]} |"
            for p in pkgs]
    reasons = {k: v for k, v in counts.items() if k not in ("packages", "catalogs", "messages", "pairs", "train", "valid")}
    drops = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
    return f"""{counts['packages']} Debian {manifest['debian_release']} (bookworm) binary packages, {counts['catalogs']} Spanish
`.mo` catalogs, {counts['messages']:,} translated messages read. Kept after cleaning, decontamination and
deduplication: **{counts['pairs']:,} pairs** = {counts['train']:,} training + {counts['valid']:,} validation
(validation rule: `{manifest['valid_rule']}`, so one English string never sits on both sides).

Left out, by reason (first reason that applied): {drops}.

**Decontamination**: a pair is removed when its English *or* Spanish side, case-folded with punctuation,
symbols and spacing removed, equals any line of Tatoeba en–es v2021-08-07 (both sides), FLORES-101 devtest
(eng, spa), newstest2013 (eng, spa) or any en/es/de cell of `harness/data/phrasebook.tsv`:
**{counts.get('eval_overlap', 0):,} pairs removed** (`eval_overlap` above; each occurrence
counted, before deduplication). Only exact normalized-line
matches are caught; a UI string that is a substring of a test sentence stays.

Per package (sorted by pairs kept; version, .deb sha256 and full licence strings are in `data_manifest.json`;
licences are the `License:` names of each package's Debian copyright file, or the licence words of a
free-form one; the translations in a package's catalogs are under that package's licence):

| package | version | catalogs | messages | pairs kept | licence (Debian copyright) |
|---|---|---:|---:|---:|---|
""" + "\n".join(rows)


def eval_section(evaluation: dict) -> str:
    """BLEU/chrF/speed table, signatures and the OPUS-MT gap."""
    res = evaluation["results"]
    rows = []
    for set_key, (label, _) in SET_NAMES.items():
        for ct in res:
            if set_key not in res[ct]:
                continue
            r = res[ct][set_key]
            rows.append(f"| {label} | {ct} | {r['sentences']:,} | {r['bleu']:.1f} | {r['chrf']:.1f} | "
                        f"{r['sentences_per_s']:.1f} | {r['target_tokens_per_s']:.0f} |")
    any_row = next(iter(next(iter(res.values())).values()))
    gap = []
    for set_key, (label, ref_key) in SET_NAMES.items():
        if ref_key is None:
            continue
        ref = OPUS_MT[ref_key]
        ours = res.get("float32", next(iter(res.values())))[set_key]
        chrf = f", chrF {ours['chrf'] - ref['chrf']:+.1f}" if ref["chrf"] is not None else ""
        gap.append(f"- {label}: OPUS-MT BLEU {ref['bleu']}" + (f" / chrF {ref['chrf']}" if ref["chrf"] else "")
                   + f"; this model (float32) BLEU {ours['bleu']:.1f} / chrF {ours['chrf']:.1f}: "
                   f"**BLEU {ours['bleu'] - ref['bleu']:+.1f}{chrf}**. Source: {ref['source']}.")
    return f"""CTranslate2 {evaluation['ctranslate2']}, beam {evaluation['beam']}, {evaluation['threads']} threads,
batches of up to {evaluation['max_batch']} sentences, whole test sets, one reference per line (Tatoeba
lines are scored line by line like the OPUS-MT cards do). Speed is sentences and generated target
subword tokens per second of `translate_batch` time after a warm-up (SentencePiece excluded); the machine
is shared with other jobs (1-minute load average {evaluation['machine']['load_avg_1m_at_end']} at the end on
{evaluation['machine']['cpu_count']} cores), so speeds are rough: compute types and sets were timed one after the
other, not interleaved, while other jobs' load came and went, so the float32/int8 speed ratio here is not a
measurement of int8's speed-up (the in-domain rows were run later, separately, with `--merge`).

| test set | compute type | sentences | BLEU | chrF | sentences/s | target tokens/s |
|---|---|---:|---:|---:|---:|---:|
""" + "\n".join(rows) + f"""

sacrebleu {evaluation['sacrebleu']} signatures: BLEU `{any_row['bleu_signature']}`;
chrF `{any_row['chrf_signature']}`.

**Gap to OPUS-MT en-es** (published numbers, not re-run here):

""" + "\n".join(gap)


def model_section(figures: dict) -> str:
    """Architecture and vocabulary."""
    o = figures["options"]
    return f"""`MarianMTModel` (Transformers), post-norm transformer, sinusoidal positions, swish activation,
tied source/target/output embeddings: d_model {o['d_model']}, {o['heads']} heads, {o['encoder_layers']} encoder
and {o['decoder_layers']} decoder layer(s), FFN {o['ffn_dim']}, dropout {o['dropout']}, max positions
{o['max_positions']}. **{figures['parameters']:,} parameters** (PyTorch count, tied weights once, the two
sinusoidal position tables included). One SentencePiece unigram model of {o['vocab_size']:,} pieces is
shared by both languages; the model vocabulary is those pieces plus `<pad>` appended last (id
{o['vocab_size']}), which is also the decoder start token — as in OPUS-MT conversions, so CTranslate2's
Marian loader drops it and starts the decoder from a zero embedding (the recipe keeps that row at zero
during training so both runtimes agree)."""


def training_section(figures: dict) -> str:
    """Optimisation settings, stop, wall and CPU time."""
    o = figures["options"]
    return f"""One process on {figures['machine']['cpu_count']} CPU cores (`torch.set_num_threads({o['threads']})`), PyTorch
{figures['machine']['torch']}, seed {o['seed']}; Adam (β 0.9/0.98), peak learning rate {o['lr']} with {o['warmup_steps']}
warm-up steps then inverse square root, label smoothing {o['label_smoothing']}, batches of about
{o['batch_tokens']:,} padded tokens, bfloat16 autocast of the forward pass: {o['bf16']}. Validation NLL every
{o['eval_every_steps']} steps; the best checkpoint is shipped. Stop: {figures['stop_reason']} after
{figures['steps']:,} steps ({figures['epochs']} epoch(s) started); best step {figures['best_step']:,}, validation NLL
{figures['best_valid_nll']} nats/token; {figures['tokens_per_s']:,.0f} (source+target) tokens/s.

| figure | value |
|---|---|
| training loop wall time | {figures['train_loop_wall_s']:,.0f} s ({figures['train_loop_wall_s'] / 60:.1f} min) |
| whole train.py wall time (SentencePiece, training, export, conversion) | {figures['wall_s']:,.0f} s |
| CPU time (user+system, process and children) | {figures['cpu_s']:,.0f} s |
| energy | unavailable (no energy sensor on this machine) |

The machine was shared with other engineers' jobs during the run (load well above 2 cores at times), so
the wall time is longer than the same run would take alone; the CPU time is the better measure of work.
The stop is time-budgeted (`max_train_s`), so a rerun on a faster or idle machine trains longer and will
not give bit-identical weights; with the same budget in steps the run is deterministic up to floating-point
reduction order."""


def history_table(figures: dict) -> str:
    """Validation NLL at each evaluation, and whether it was still falling when training stopped."""
    rows = [f"| {h['step']:,} | {h['epoch']} | {h['elapsed_s']:,.0f} | {h['train_loss']:.3f} | {h['valid_nll']:.3f} |"
            for h in figures["history"]]
    still = figures["best_step"] == figures["steps"]
    note = ("The best checkpoint is the last one: validation NLL was still falling fast when the time budget "
            "ended the run, so the model is under-trained; a larger `max_train_s` (or a machine without "
            "other jobs) gives a better one with the same recipe.") if still else ""
    return "\n".join(["| step | epoch | elapsed s | train loss (smoothed) | valid NLL |", "|---:|---:|---:|---:|---:|",
                      *rows]) + "\n\n" + note


def render(manifest: dict, figures: dict, evaluation: dict) -> str:
    """The whole README.md text."""
    return f"""# nmt-en-es — a small English→Spanish transformer trained from Debian's Spanish UI translations

A {figures['parameters'] / 1e6:.1f}M-parameter Marian-style transformer, trained from scratch in about an hour on
2 CPU cores from English→Spanish pairs extracted from the gettext catalogs of Debian packages (software
UI strings). The weights ship once, in Transformers format (`hf/`); `make models` converts them into a
float32 CTranslate2 model (`ct2/`, byte for byte the files pinned in models/manifest.toml; quantize at load
time with `compute_type="int8"`). It is the project's own,
reproducible MT baseline; it is far weaker than OPUS-MT on everyday sentences (numbers below) because
its only training data is software UI text.

## Files

{files_table(figures)}

- `ct2/` (built by `make models`, not in git): `model.bin`, `config.json`, `shared_vocabulary.json`
  (CTranslate2 converter output) and the SentencePiece model as `source.spm` and `target.spm` (the same
  file: one shared vocabulary).
- `hf/`: `model.safetensors`, `config.json`, `generation_config.json`, and MarianTokenizer files
  (`source.spm`, `target.spm`, `vocab.json`, `tokenizer_config.json`).
- `train_figures.json`, `eval.json`, `data_manifest.json`: the figures this card is made from.

`hf/` and `ct2/` hold the same weights: greedy decoding of a handful of UI sentences with Transformers'
`generate` and with CTranslate2 float32 gave identical output when the recipe was written.

```python
import ctranslate2, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file="models/nmt-en-es/ct2/source.spm")
tr = ctranslate2.Translator("models/nmt-en-es/ct2", compute_type="int8")  # or "float32"
out = tr.translate_batch([sp.encode("Open the file", out_type=str) + ["</s>"]], beam_size=4)
print(sp.decode_pieces(out[0].hypotheses[0]))
# PyTorch: MarianMTModel.from_pretrained("models/nmt-en-es/hf"), MarianTokenizer.from_pretrained(same)
```

## Data

{data_section(manifest)}

Cleaning (`harness/models/recipes/nmt/mocatalog.py`): msgctxt dropped; plural entries dropped; one accelerator
mark removed per string (GTK `_`, Qt/KDE `&` with `&&` → `&`, LibreOffice `~`); HTML/KDE rich-text tags
removed and entities decoded; strings that were mostly markup, or hold URLs, paths, file names or escape
sequences dropped; printf/Qt/Python/shell placeholders (`%s`, `%1`, `{{0}}`, `$VAR`) kept as they are only
when both sides hold the same multiset of them (else dropped); code-like strings (identifiers with `_`,
braces, `=`, `;`) dropped; English longer than 200 characters dropped; untranslated (identical) pairs and
translator-credit entries dropped; for English of 20+ characters a Spanish/English length ratio outside
0.5–2.5 dropped; `…` → `...`, `’` → `'`; exact duplicate pairs dropped.

**Licences**: every package is in Debian main, so all catalogs are under DFSG-free licences (mostly GPL-2+/
GPL-3+/LGPL, MPL-2.0 for LibreOffice, plus BSD/MIT/Apache for some). This card lists them per package
with attribution. Whether trained weights are a derivative work of copyleft training text is not settled;
treat the weights as carrying the obligations of the GPL-family catalogs if you redistribute them.

## Model

{model_section(figures)}

## Training

{training_section(figures)}

{history_table(figures)}

## Evaluation

{eval_section(evaluation)}

What to expect: the model knows UI vocabulary ("file", "settings", "open", "error") and short imperative
phrases, which suits signs and labels better than conversation; it has seen almost no first/second-person
conversational Spanish, news or encyclopedic prose, which is what Tatoeba and FLORES test.

## Reproduce

```sh
apt-get update                                   # Debian 12; root (apt-get download, dpkg -x; nothing is installed)
.venv/bin/pip install torch==2.13.0 transformers==5.24.0 sentencepiece==0.2.3 ctranslate2==4.8.5
.venv/bin/python -m harness.models.recipes.nmt.reproduce  # collect → train → evaluate → this card
```

(`make train-nmt` runs the last line.) The shipped run: collect about 3 minutes with downloads, training
as above, evaluation about 15 minutes at beam 4 on this shared machine.

Steps, each its own process (`harness/models/recipes/nmt/`): `collect.py` (`packages.txt` → `build/nmt/data/`),
`train.py` (`options.toml`; SentencePiece, training, export, CTranslate2 conversion → this folder),
`evaluate.py` (→ `eval.json`; hypotheses in `build/nmt/eval/`), `card.py` (→ this README). Scratch data
stays in `build/nmt/` (gitignored); no evaluation text is written into the repository. Package versions
are not pinned by `apt-get download` (Debian security updates replace old versions); the versions and
.deb sha256 used for this model are in `data_manifest.json`.
"""


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=PROJECT / "build/nmt/data")
    parser.add_argument("--model", type=Path, default=PROJECT / "models/nmt-en-es")
    args = parser.parse_args()
    shutil.copy(args.data / "manifest.json", args.model / "data_manifest.json")
    manifest = json.loads((args.model / "data_manifest.json").read_text())
    figures = json.loads((args.model / "train_figures.json").read_text())
    evaluation = json.loads((args.model / "eval.json").read_text())
    (args.model / "README.md").write_text(render(manifest, figures, evaluation))


if __name__ == "__main__":
    main()
