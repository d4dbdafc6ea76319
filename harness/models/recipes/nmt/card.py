"""Write the model card (``models/nmt-en-es/README.md``) from the recipe's JSON outputs only.

    python -m harness.models.recipes.nmt.card --data build/nmt/data --model models/nmt-en-es

Reads ``<data>/manifest.json`` (collect.py; copied beside the model as ``data_manifest.json``),
``<data>/distill_manifest.json`` (distill.py; copied as ``distill_manifest.json``),
``<model>/train_figures.json`` (train.py), ``<model>/eval.json`` (evaluate.py) and, where the shipped model
trained past the recipe's budget, ``<model>/recipe_cap.json`` (the checkpoint at that budget, evaluated), and
``<model>/levers.json`` (checkpoints compared by checkpoints.py). No figure is typed in
by hand except the published OPUS-MT scores below, each with its source.
"""

from __future__ import annotations

import argparse
import itertools
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
SET_NAMES = {"tatoeba-v2021-08-07": ("Tatoeba en–es v2021-08-07 (test)", "tatoeba"),
             "flores101-devtest": ("FLORES-101 devtest en→es (test)", "flores"),
             "phrasebook": ("sign phrasebook en→es (test)", None),
             "debian-ui-valid": ("held-out Debian UI pairs (validation)", None),
             "distilled-valid": ("held-out distillation inputs, Apertium as reference (validation)", None)}


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

**Decontamination** (`harness/models/recipes/nmt/decontam.py`): a pair is removed when its English *or*
Spanish side, case-folded with punctuation, symbols and spacing removed, equals any line of Tatoeba en–es
v2021-08-07 (both sides), FLORES-101 devtest (eng, spa), newstest2013 (eng, spa) or any en/es/de cell of
`harness/data/phrasebook.tsv` (`eval_overlap_exact`), or, for strings of six words or more, shares half
of its word trigrams with one such line (`eval_overlap_near`: a test sentence with a word changed, inside
a longer string, or a part of it): **{_overlap(counts):,} pairs removed** (each occurrence counted, before
deduplication). The evaluation files' sha256 are in `data_manifest.json`
(`decontaminated_against_sha256`); `tests/test_nmt_recipe.py` checks them against the files here.

Per package (sorted by pairs kept; version, .deb sha256 and full licence strings are in `data_manifest.json`;
licences are the `License:` names of each package's Debian copyright file, or the licence words of a
free-form one; the translations in a package's catalogs are under that package's licence):

| package | version | catalogs | messages | pairs kept | licence (Debian copyright) |
|---|---|---:|---:|---:|---|
""" + "\n".join(rows)


def _overlap(counts: dict) -> int:
    return sum(v for k, v in counts.items() if k.startswith("eval_overlap"))


def stages(figures: dict) -> list[tuple[str, dict]]:
    """The training runs behind a model, the first first, each with its name.

    "training" for a single run, else "stage 1", "stage 2", …; a run that trained a shipped model on with its
    schedule continued (``schedule_offset_steps``) is "stage N, continued" of the stage before it ("stage N,
    continued 2" for the next such run). Each run's ``train_figures.json`` holds the one it started from (``init``).
    """
    chain = [figures]
    while (chain[0].get("init") or {}).get("figures"):
        chain.insert(0, chain[0]["init"]["figures"])
    if len(chain) == 1:
        return [("training", figures)]
    named: list[tuple[str, dict]] = []
    stage = 0
    for f in chain:
        if named and f["options"].get("schedule_offset_steps", 0) > 0:
            again = sum(", continued" in name for name, _ in named if name.startswith(f"stage {stage},"))
            named.append((f"stage {stage}, continued" + (f" {again + 1}" if again else ""), f))
        else:
            stage += 1
            named.append((f"stage {stage}", f))
    return named


def distill_section(distilled: dict, human_pairs: int, figures: dict | None = None) -> str:
    """The distilled sources: where each comes from, its licence, inputs, pairs and drops, the stages that use them; the human share."""
    sources = distilled["sources"]
    rows = [f"| {name} | {r['from']} | {r['licence']} | {r['inputs']:,} | {r['pairs']:,} | "
            f"{', '.join(f'{k} {v:,}' for k, v in r['drops'].items()) or '–'} | {_stages(name, figures or {})} |"
            for name, r in sources.items()]
    total = distilled["pairs"]
    return f"""Teacher: {distilled['teacher']} (apertium {distilled['apertium']}), run through arbench's own
Apertium backend, so the student learns exactly what it is compared with. Inputs are English text that is
not evaluation data (and, for back-translation, the human Spanish of the catalogs translated spa→eng);
sign-length inputs (up to four words) also go in UPPER CASE and Title Case. Every input and output passes
the same decontamination as the human pairs; collect.py's validation strings never reach training.

| source | from | licence | inputs | pairs kept | dropped | trained on in |
|---|---|---|---:|---:|---|---|
""" + "\n".join(rows) + f"""

{total:,} distilled pairs and {human_pairs:,} human pairs in all. {_shares(figures or {}, sources, human_pairs)}{post_edits(figures or {})}
Held-out inputs of each source (collect.py's hash rule) with Apertium's output are the
`distilled-valid` set: validation only, never trained on."""


def _shares(figures: dict, sources: dict, human_pairs: int) -> str:
    """The share of distilled pairs in each training stage's data (after its source weights)."""
    parts = []
    for name, f in stages(figures):
        if not f:
            continue
        counts = f.get("train_pairs_by_source") or {
            "human": human_pairs, **{k: sources[k]["pairs"] for k in f["options"]["distilled_sources"] if k in sources}}
        pairs = sum(counts.values())
        parts.append(f"{name}: {pairs - counts['human']:,} distilled and {counts['human']:,} human pairs "
                     f"({100 * (pairs - counts['human']) / pairs:.0f}% distilled)")
    return "**" + "; ".join(parts) + ".**" if parts else ""


def post_edits(figures: dict) -> str:
    """The runs that corrected the teacher's output (``teacher_post_edits``, postedit.py) and how many pairs that changed."""
    parts = []
    for name, f in stages(figures):
        edits = f.get("options", {}).get("teacher_post_edits") or []
        if edits:
            changed = f.get("post_edited_pairs_by_source") or {}
            parts.append(f"{name} corrected {sum(changed.values()):,} of its distilled pairs ({', '.join(edits)})")
    if not parts:
        return ""
    return ("\nThe teacher's output was post-edited where a run says so (harness/models/recipes/nmt/postedit.py; `please`:"
            " Apertium writes a courtesy \"please\" as the verb \"Complacer\", the edit writes \"por favor\"; `closed`: it"
            " writes a sign's \"closed\" as the past tense \"cerró\", the edit writes the participle, \"Museo cerrado\"): "
            + "; ".join(parts) + ". The data files keep Apertium's own output.")


def _stages(source: str, figures: dict) -> str:
    """Which training stage used a source, and at what weight (``source_weights``: share kept or repeats)."""
    used = []
    for name, f in stages(figures):
        options = f.get("options", {})
        if source in options.get("distilled_sources", ()):
            weight = options.get("source_weights", {}).get(source, 1)
            used.append(name + (f" (×{weight:g})" if weight != 1 else ""))
    return "; ".join(used) or "–"


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
                        f"{r.get('max_length_ratio', '–')} | {r.get('loops', '–')} | "
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
measurement of int8's speed-up (`experiments/mt-quant.toml` measures it, on an otherwise idle machine).

| set | compute type | sentences | BLEU | chrF | most target/source tokens | degenerate lines | sentences/s | target tokens/s |
|---|---|---:|---:|---:|---:|---:|---:|---:|
""" + "\n".join(rows) + f"""

"Most target/source tokens": the largest ratio of output to input subword tokens of any line (Apertium's
output counted in the model's tokens). "Degenerate lines": outputs that repeat one letter five times
running, one word four times running or one 3-gram three times. Decoding: {_decoding(evaluation)}.

**Against Apertium** (chrF, float32 minus Apertium, same lines): {_apertium_gap(res)}.

sacrebleu {evaluation['sacrebleu']} signatures: BLEU `{any_row['bleu_signature']}`;
chrF `{any_row['chrf_signature']}`.

**Gap to OPUS-MT en-es** (published numbers, not re-run here):

""" + "\n".join(gap)


def _decoding(evaluation: dict) -> str:
    d = evaluation.get("decoding", {})
    if not d:
        return f"beam {evaluation['beam']}, at most 256 target tokens"
    ratio = f"at most {d['max_length_ratio']} × source tokens + 4" if d["max_length_ratio"] else "at most 256 target tokens"
    return (f"beam {d['beam']}, {ratio}, repetition penalty {d['repetition_penalty']}, "
            f"no-repeat n-gram size {d['no_repeat_ngram_size'] or 'off'}")


def _apertium_gap(res: dict) -> str:
    if "apertium" not in res or "float32" not in res:
        return "not measured in this evaluation"
    gaps = [f"{SET_NAMES.get(k, (k,))[0]} {res['float32'][k]['chrf'] - r['chrf']:+.1f}"
            for k, r in res["apertium"].items() if k in res["float32"]]
    return "; ".join(gaps)


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


STAGE_OPTIONS = {"stage 1": "every first-stage source (options.toml)", "stage 2": "everyday-weighted mix (options-adapt.toml)",
                 "stage 2, continued": "the shipped stage 2 trained on (options-continue.toml)"}


def stages_section(figures: dict) -> str:
    """The training stages side by side, when this model was trained on from an earlier run (``--init``)."""
    named = stages(figures)
    if len(named) < 2:
        return ""
    (_, first), (_, second) = named[:2]
    init = second["init"]
    rows = []
    for name, f in named:
        o = f["options"]
        kind = "stage 2, continued" if name.startswith("stage 2, continued") else name
        label = f"{name}: {STAGE_OPTIONS[kind]}" if kind in STAGE_OPTIONS else name
        rows.append(f"| {label} | {f['train_pairs']:,} | {o['lr']} / {o['warmup_steps']} | {f['steps']:,} | {f['best_step']:,} | "
                    f"{f['best_valid_nll']} on {f['valid_pairs']:,} | {f['train_loop_wall_s']:,.0f} | {f['stop_reason']} |")
    weights = ", ".join(f"{k} ×{v:g}" for k, v in second["options"].get("source_weights", {}).items()) or "none"
    runs = "two stages" if len(named) == 2 else f"{len(named)} runs"
    return f"""Training ran in {runs}. Stage 2 started from stage 1's best checkpoint (step
{first['best_step']:,}, `best.pt` sha256 `{init['best_pt_sha256'][:16]}…`) and its SentencePiece model, with a fresh
optimizer and schedule, on a mix that adds distill.py's everyday sources (`wordnet`, `everyday`, `quotes`) to a
share of the first stage's data (source weights: {weights}; a weight below 1 keeps that share of the source's
pairs, chosen by hash). The validation NLL of each stage is over its own validation pairs (the second's include
held-out inputs of the everyday sources), so stage 1's is not comparable with the later ones.{_continued(named)}

| stage | training pairs | peak lr / warm-up steps | steps | best step | best valid NLL (nats/token) | training loop s | stop |
|---|---:|---|---:|---:|---|---:|---|
""" + "\n".join(rows) + "\n"


def _continued(named: list[tuple[str, dict]]) -> str:
    """What a continued stage started from: the shipped weights of the run before it, with its schedule continued."""
    notes = []
    for (before, earlier), (name, f) in itertools.pairwise(named):
        if ", continued" in name:
            o, init, mix = f["options"], f["init"], _mix_change(earlier["options"], f["options"])
            notes.append(f" \"{name}\" trained the weights that shipped from {before} (`{init['run']}`, `hf/model.safetensors` sha256"
                         f" `{init['best_pt_sha256'][:16]}…`, float16 read as float32) on, {mix}, with a fresh optimizer"
                         f" (its state does not ship) and the learning rate decaying on as if {o['schedule_offset_steps']:,} steps had"
                         f" run before (`schedule_offset_steps`); its steps count from 0.")
    return "".join(notes)


def _mix_change(before: dict, after: dict) -> str:
    """How a run's training mix differs from the run it continued: sources added or dropped, weights changed."""
    was, now = before.get("distilled_sources", []), after.get("distilled_sources", [])
    weights_was, weights_now = before.get("source_weights", {}), after.get("source_weights", {})
    changes = [f"`{s}` added" for s in now if s not in was] + [f"`{s}` dropped" for s in was if s not in now]
    changes += [f"{s} ×{weights_was.get(s, 1):g} → ×{weights_now.get(s, 1):g}" for s in dict.fromkeys([*weights_was, *weights_now])
                if weights_was.get(s, 1) != weights_now.get(s, 1)]
    return f"on the same mix with {', '.join(changes)}" if changes else "on the same mix"


def training_section(figures: dict) -> str:
    """Optimisation settings, stop, wall and CPU time."""
    o = figures["options"]
    resumed = figures.get("resumed_at_step", 0)
    sessions = (f"The loop was interrupted and resumed from its checkpoint at step {resumed:,} (`state.pt`: weights,"
                " optimizer, random state and position in the epoch; a resumed run ends where an uninterrupted one"
                " does, `tests/test_nmt_recipe.py`). ") if resumed else ""
    wall = figures.get("wall_s_last_session", figures.get("wall_s"))
    cpu = figures.get("cpu_s_last_session", figures.get("cpu_s"))
    last = f"The last run ({stages(figures)[-1][0]}), in detail: " if figures.get("init") else ""
    return f"""{last}One process on {figures['machine']['cpu_count']} cores of `{figures['machine']['processor'] or 'x86_64'}`
(device `{figures.get('device', 'cpu')}`, `torch.set_num_threads({o['threads']})`), PyTorch {figures['machine']['torch']},
seed {o['seed']}; Adam (β 0.9/0.98), peak learning rate {o['lr']} with {o['warmup_steps']} warm-up steps then
inverse square root, label smoothing {o['label_smoothing']}, batches of about {o['batch_tokens']:,} padded tokens,
bfloat16 autocast of the forward pass: {o['bf16']}. Validation NLL every {o['eval_every_steps']} steps on the
{figures['valid_pairs']:,} validation pairs; {_shipped(figures)} Stop: {figures['stop_reason']} after
{figures['steps']:,} steps ({figures['epochs']} epoch(s) started); best step {figures['best_step']:,}, validation NLL
{figures['best_valid_nll']} nats/token; {figures['tokens_per_s']:,.0f} (source+target) tokens/s in the last
session. {sessions}The time budget (`max_train_s` {o['max_train_s']:,.0f} s) counts training-loop seconds
over all sessions. The recipe's own budgets (`options.toml`, `options-adapt.toml`) keep collecting, distilling, training and
evaluating within 2.5 hours on 2 cores; a longer one (`train.py --max-train-s`, `make train-nmt
NMT_TRAIN_S=... NMT_ADAPT_S=...` for the two stages) continues the same run on the same schedule.{_cap_note(figures)}

| figure | value |
|---|---|
| training loop wall time, all sessions | {figures['train_loop_wall_s']:,.0f} s ({figures['train_loop_wall_s'] / 60:.1f} min) |
| train.py wall time, last session (SentencePiece, training, export, conversion) | {wall:,.0f} s |
| CPU time, last session (user+system, process and children) | {cpu:,.0f} s |
| energy | {figures['energy_note']} |

The stop is time-budgeted, so a rerun on a faster or idler machine trains longer and will not give
bit-identical weights; with the same budget in steps the run is deterministic up to floating-point
reduction order."""


def _shipped(figures: dict) -> str:
    """Which weights ship: the best checkpoint, or the average of the last evaluations' (``average_last``)."""
    avg = figures.get("averaging")
    if not avg:
        return "the best checkpoint is shipped."
    if len(avg["steps"]) < 2:
        return "the best checkpoint is shipped (too few evaluations kept to average)."
    steps = ", ".join(f"{step:,}" for step in avg["steps"])
    if avg["shipped"] == "averaged":
        return (f"the average of the weights at steps {steps} (checkpoint averaging) is shipped: its validation NLL,"
                f" {avg['valid_nll']}, is below the best single checkpoint's ({avg['best_valid_nll']}, step {avg['best_step']:,}).")
    measured = f" (validation NLL {avg['valid_nll']})" if "valid_nll" in avg else ""
    return (f"the best checkpoint is shipped: the average of the weights at steps {steps}{measured} was not better"
            f" than it ({avg['best_valid_nll']}).")


def _cap_note(figures: dict) -> str:
    recipe_s = figures.get("recipe_max_train_s")
    if figures.get("init"):
        first = _recipe_budget()
        trained = " + ".join(f"{f['train_loop_wall_s']:,.0f} s" for _, f in stages(figures))
        return (f" **This model trained longer than the recipe's budgets** ({first:,.0f} s for stage 1, {recipe_s:,.0f} s for"
                f" stage 2; it trained {trained}); \"Within the 2.5-hour recipe\" below says what is known of the recipe's own result.")
    if not recipe_s or recipe_s >= figures["options"]["max_train_s"]:
        return ""
    return (f" **This model trained longer than the recipe's {recipe_s:,.0f} s**; what the recipe reaches within its"
            " budget is in \"Within the 2.5-hour recipe\" below.")


def _recipe_budget() -> float:
    """The first stage's budget in the recipe's own options.toml."""
    import tomllib

    return float(tomllib.loads((HERE / "options.toml").read_text())["max_train_s"])


def cap_section(cap: dict | None, figures: dict | None = None) -> str:
    """What the checkpoint at the recipe's own time budget scored (``recipe_cap.json``), when the shipped one trained longer."""
    if not cap:
        return ""
    staged = bool((figures or {}).get("init"))
    whose = "the single-stage recipe's" if staged else "the recipe's own"
    results = cap["eval"]["results"]
    rows = []
    for name, (label, _) in SET_NAMES.items():
        cells = [results.get(ct, {}).get(name) for ct in ("float32", "int8", "apertium")]
        if any(cells):
            rows.append(f"| {label} | " + " | ".join(f"{c['chrf']:.1f} / {c['bleu']:.1f}" if c else "–" for c in cells) + " |")
    return f"""### Within the 2.5-hour recipe

{_staged_cap_note(figures or {}) if staged else ""}The checkpoint at {whose} budget ({cap['max_train_s']:,.0f} s of training loop,
step {cap['step']:,},
validation NLL {cap['valid_nll']} nats/token) was translated once on every set, decoded as below
({_decoding(cap['eval'])}). chrF / BLEU:

| set | float32 | int8 | Apertium |
|---|---:|---:|---:|
""" + "\n".join(rows) + "\n"


def _staged_cap_note(figures: dict) -> str:
    return (f"The two-stage recipe's own result within its budgets ({_recipe_budget():,.0f} s + "
            f"{figures['recipe_max_train_s']:,.0f} s of training loop) has not been measured: the shipped model's first stage "
            "is the earlier single-stage run, continued past that recipe's budget. What is measured:\n\n")


def levers_section(levers: list[dict] | None) -> str:
    """Checkpoints scored the same way (``levers.json``, written by checkpoints.py): what each lever bought."""
    if not levers:
        return ""
    rows = []
    for lever in levers:
        results = lever["eval"]["results"]["float32"]
        cells = [f"{results[k]['chrf']:.1f}" if k in results else "–" for k in SET_NAMES]
        avg = lever.get("averaged_steps")
        step = f"mean of {avg[0]:,}–{avg[-1]:,} ({len(avg)})" if avg else f"{lever['step']:,}"
        rows.append(f"| {lever['label']} | {step} | {lever['valid_nll']} | {' | '.join(cells)} |")
    return f"""### What each lever bought

Checkpoints scored the same way (`harness/models/recipes/nmt/checkpoints.py`: float32, the decoding below,
every set), chrF. Steps count from the start of each checkpoint's own stage; validation
NLL is over that stage's validation pairs.

| checkpoint | step | valid NLL | {' | '.join(label for label, _ in SET_NAMES.values())} |
|---|---:|---:|{'---:|' * len(SET_NAMES)}
""" + "\n".join(rows) + "\n"


def history_table(figures: dict) -> str:
    """Validation NLL at each evaluation (of every stage), and whether it was still falling when training stopped."""
    named = stages(figures)
    rows = []
    for name, f in named:
        rows += [f"| **{name}** | | | | |"] if len(named) > 1 else []
        rows += [f"| {h['step']:,} | {h['epoch']} | {h['elapsed_s']:,.0f} | {h['train_loss']:.3f} | {h['valid_nll']:.3f} |"
                 for h in f["history"]]
    still = figures["best_step"] == figures["steps"]
    note = ("The best checkpoint is the last one: validation NLL was still falling fast when the time budget "
            "ended the run, so the model is under-trained; a larger `max_train_s` (or a machine without "
            "other jobs) gives a better one with the same recipe.") if still else ""
    return "\n".join(["| step | epoch | elapsed s | train loss (smoothed) | valid NLL |", "|---:|---:|---:|---:|---:|",
                      *rows]) + "\n\n" + note


def composed_signs(sources: set[str]) -> str:
    """What the card's intro adds for the sign sources among the distilled ``sources`` of any run."""
    said = ", sign-like phrases over its nouns of places, food and transport" if "signs" in sources else ""
    notices = ", and notices (what signs forbid, ask and warn) over sign verbs and its nouns of things"
    return said + (notices if "notices" in sources else "")


def render(manifest: dict, distilled: dict, figures: dict, evaluation: dict, cap: dict | None = None,
           levers: list[dict] | None = None) -> str:
    """The whole README.md text."""
    named = stages(figures)
    hours = sum(f["train_loop_wall_s"] for _, f in named) / 3600
    runs = {1: "", 2: " (two stages)"}.get(len(named), f" ({len(named)} runs: {'; '.join(name for name, _ in named)})")
    nouns = composed_signs({source for _, f in named for source in f["options"].get("distilled_sources", [])})
    return f"""# nmt-en-es — a small English→Spanish transformer from Debian's translations and Apertium's

A {figures['parameters'] / 1e6:.1f}M-parameter Marian-style transformer, trained from scratch in
{hours:.1f} hours{runs} on 2 CPU cores from English→Spanish pairs: the human translations in the
gettext catalogs of Debian packages, and Apertium's translations of English text that is not evaluation
data (sequence-level distillation: dictionary words and phrases, UI strings, package descriptions,
fortunes and quotations, WordNet's example sentences and glosses, everyday sentences composed from
WordNet's words{nouns}; and back-translated Spanish). The weights ship once, as float16 in Transformers format (`hf/`);
`make models` converts them into a float32 CTranslate2 model (`ct2/`, byte for byte the files pinned in
models/manifest.toml; quantize at load time with `compute_type="int8"`). It is the project's own,
reproducible MT model; the numbers below put it beside its teacher, Apertium, on the same lines.

## Files

{files_table(figures)}

- `ct2/` (built by `make models`, not in git): `model.bin`, `config.json`, `shared_vocabulary.json`
  (CTranslate2 converter output) and the SentencePiece model as `source.spm` and `target.spm` (the same
  file: one shared vocabulary).
- `hf/`: `model.safetensors`, `config.json`, `generation_config.json`, and MarianTokenizer files
  (`source.spm`, `target.spm`, `vocab.json`, `tokenizer_config.json`).
- `train_figures.json`, `eval.json`, `data_manifest.json`, `distill_manifest.json`: the figures this card is
  made from.

`hf/` and `ct2/` hold the same weights (float16 values, read as float32 by both runtimes):
`tests/test_mt_peer.py` compares their greedy outputs.

```python
import ctranslate2, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file="models/nmt-en-es/ct2/source.spm")
tr = ctranslate2.Translator("models/nmt-en-es/ct2", compute_type="int8")  # or "float32"
out = tr.translate_batch([sp.encode("Open the file", out_type=str) + ["</s>"]], beam_size=4)
print(sp.decode_pieces(out[0].hypotheses[0]))
# PyTorch: MarianMTModel.from_pretrained("models/nmt-en-es/hf"), MarianTokenizer.from_pretrained(same)
```

## Data

### Human pairs: Debian's gettext catalogs

{data_section(manifest)}

Cleaning (`harness/models/recipes/nmt/mocatalog.py`): msgctxt dropped; plural entries dropped; one accelerator
mark removed per string (GTK `_`, Qt/KDE `&` with `&&` → `&`, LibreOffice `~`); HTML/KDE rich-text tags
removed and entities decoded; strings that were mostly markup, or hold URLs, paths, file names or escape
sequences dropped; printf/Qt/Python/shell placeholders (`%s`, `%1`, `{{0}}`, `$VAR`) kept as they are only
when both sides hold the same multiset of them (else dropped); code-like strings (identifiers with `_`,
braces, `=`, `;`) dropped; English longer than 200 characters dropped; untranslated (identical) pairs and
translator-credit entries dropped; for English of 20+ characters a Spanish/English length ratio outside
0.5–2.5 dropped; `…` → `...`, `’` → `'`; exact duplicate pairs dropped.

### Distilled pairs: Apertium as the teacher

{distill_section(distilled, manifest['counts']['train'], figures)}

### Licences

Every package is in Debian main, so all catalogs are under DFSG-free licences (mostly GPL-2+/GPL-3+/LGPL,
MPL-2.0 for LibreOffice, plus BSD/MIT/Apache for some); this card lists them per package with attribution.
The distilled targets are Apertium's output. Apertium's engine and its eng-spa data are GPL: the output of
a GPL program is not itself covered by the GPL in general, but Apertium's translations of dictionary
entries reproduce the GPL-licensed bilingual dictionary entry by entry, and the `dictionary` and
`phrases` sources are built from that dictionary's words. Whether trained weights are a derivative work of
their training text is not settled; treat the weights as carrying the obligations of GPL-2.0 (the
dictionary) and of the GPL-family catalogs if you redistribute them. The English of the `wordnet` and
`everyday` sources comes from Princeton's WordNet 3.0 (`WordNet3.0` in the package's copyright file: use,
copying and redistribution are permitted with Princeton's copyright notice) and
that of `fortunes` and `quotes` from Debian's fortune databases (BSD); their Spanish is Apertium's output, as
above.

## Model

{model_section(figures)}

## Training

{stages_section(figures)}
{training_section(figures)}

{history_table(figures)}

## Evaluation

{eval_section(evaluation)}

{cap_section(cap, figures)}
{levers_section(levers)}

Each checkpoint here was translated once on the test sets, after every setting (data, model size, training,
decoding: chosen per checkpoint on the two validation sets) had been chosen on the validation sets and on
throughput trials; nothing was tuned on a test set.

## Reproduce

```sh
apt-get update                                   # Debian 12; root (apt-get download, dpkg -x; nothing is installed)
.venv/bin/pip install torch==2.13.0 transformers==5.24.0 sentencepiece==0.2.3 ctranslate2==4.8.5
apt-get install lttoolbox-dev                    # lt-print, to read Apertium's bilingual dictionary
.venv/bin/python -m harness.models.recipes.nmt.reproduce  # collect → distill → train → adapt → evaluate → this card
```

(`make train-nmt` runs the last two lines; `--device cuda` trains on a GPU with the same recipe; an
interrupted run continues with `--from train`, or `--from adapt` once the first stage is done.) The shipped
weights train on from a clone that has no run folders, once `collect.py` and `distill.py` have written
`build/nmt/data/` (docs/mt.md): `.venv/bin/python -m harness.models.recipes.nmt.train --options
harness/models/recipes/nmt/options-continue.toml --init models/nmt-en-es --work build/nmt/continue --out
build/nmt/model-continue --max-train-s SECONDS` (a fresh optimizer; the learning rate decays on from where the
shipped run left it).

Steps, each its own process (`harness/models/recipes/nmt/`): `collect.py` (`packages.txt` → `build/nmt/data/`),
`distill.py` (Apertium's translations → `build/nmt/data/distilled.tsv`, its cache in `build/nmt/distill/`),
`train.py` (`options.toml`; SentencePiece, training, export, CTranslate2 conversion → `build/nmt/stage1/`),
`train.py` again as the `adapt` step (`options-adapt.toml`, `--init build/nmt/run` → this folder),
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
    shutil.copy(args.data / "distill_manifest.json", args.model / "distill_manifest.json")
    manifest = json.loads((args.model / "data_manifest.json").read_text())
    distilled = json.loads((args.model / "distill_manifest.json").read_text())
    figures = json.loads((args.model / "train_figures.json").read_text())
    evaluation = json.loads((args.model / "eval.json").read_text())
    cap_file = args.model / "recipe_cap.json"  # written when the shipped model trained past the recipe's budget
    cap = json.loads(cap_file.read_text()) if cap_file.is_file() else None
    levers_file = args.model / "levers.json"  # checkpoints.py's records
    levers = json.loads(levers_file.read_text()) if levers_file.is_file() else None
    (args.model / "README.md").write_text(render(manifest, distilled, figures, evaluation, cap, levers))


if __name__ == "__main__":
    main()
