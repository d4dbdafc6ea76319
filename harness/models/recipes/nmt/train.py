"""Train the small English→Spanish Marian model on collect.py's pairs and ship it (Transformers + CTranslate2).

    python -m harness.models.recipes.nmt.train --data build/nmt/data --out models/nmt-en-es
    python -m harness.models.recipes.nmt.train --trial-steps 30      # time a few steps, ship nothing
    python -m harness.models.recipes.nmt.train --options options-adapt.toml --init build/nmt/run --work build/nmt/adapt

``--init RUN`` starts from another run's best checkpoint and SentencePiece model (a second stage with
other data: fresh optimizer and schedule, the same vocabulary) instead of from random weights. ``--init``
of a shipped model folder (``models/nmt-en-es``: its ``hf/`` weights, float16 read as float32) trains on
from what ships, on a fresh clone that has no run folders; ``schedule_offset_steps`` then continues the
learning-rate decay where that model's run left it (``continue_schedule``, options-continue.toml).

Steps: a shared SentencePiece unigram model on the training pairs; a Marian transformer (``options.toml``)
trained with Adam, inverse-sqrt schedule and label smoothing in one process, validation loss every
``eval_every_steps`` steps, the best checkpoint kept (``build/nmt/run/best.pt``), early stopping after
``patience_evals`` evaluations without improvement or at ``max_train_s``. With ``average_last = N`` the
weights of the last N evaluations are kept too (``<run>/recent/``), and their average ships instead of the
best checkpoint where its validation loss is lower (checkpoint averaging). Then export to ``<out>/hf``
(safetensors, config, MarianTokenizer files) and conversion to ``<out>/ct2`` (float32) with the
SentencePiece model beside it as source.spm and target.spm (the same file). Figures for the model card go
to ``<out>/train_figures.json``: parameter count, file sizes, wall and CPU seconds (this process and its
children, from getrusage), steps, epochs, losses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import random
import resource
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import sentencepiece as spm
import tomllib
import torch
import torch.nn.functional as F

from harness.models.recipes.nmt.postedit import check_edits, post_edit
from harness.paths import project_root

HERE = Path(__file__).resolve().parent  # the recipe's data files ship beside it
PROJECT = project_root()
FIGURES_VERSION = 1
EOS_ID, UNK_ID = 0, 1  # SentencePiece ids; <pad> is appended last, as OPUS-MT conversions do (CT2 drops it)


@dataclass(frozen=True)
class TrainOptions:
    """Every knob of one run; loaded from ``options.toml``. Times in seconds, sizes in tokens."""

    seed: int = 1234
    threads: int = 2
    vocab_size: int = 8000
    d_model: int = 256
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 1
    ffn_dim: int = 512
    dropout: float = 0.1
    max_positions: int = 256
    max_tokens: int = 128
    lr: float = 0.0015
    warmup_steps: int = 600
    label_smoothing: float = 0.1
    batch_tokens: int = 6000
    eval_every_steps: int = 300
    patience_evals: int = 8
    max_epochs: int = 60
    max_train_s: float = 3000.0
    bf16: bool = True
    distilled_sources: tuple[str, ...] = ()
    human_repeats: int = 1
    checkpoint_every_s: float = 600.0
    source_weights: dict[str, float] = field(default_factory=dict)  # source ("human" too) → share kept (<1) or repeats
    average_last: int = 0  # keep the last N evaluations' weights; ship their average where its validation loss is lower
    schedule_offset_steps: int = 0  # decay the learning rate as if this many steps had run before (continuing a shipped model)
    continue_schedule: bool = False  # with --init: schedule_offset_steps = how far the init model's schedule had run
    teacher_post_edits: tuple[str, ...] = ()  # postedit.py's corrections of the teacher, on distilled pairs (train and validation)

    def __post_init__(self) -> None:
        object.__setattr__(self, "distilled_sources", tuple(self.distilled_sources))
        object.__setattr__(self, "teacher_post_edits", tuple(self.teacher_post_edits))
        check_edits(self.teacher_post_edits)

    @classmethod
    def from_toml(cls, path: Path) -> TrainOptions:
        """Options from a TOML file; an unknown key is an error."""
        data = tomllib.loads(path.read_text())
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise SystemExit(f"train: unknown option(s) {sorted(unknown)} in {path}")
        return cls(**data)


Example = tuple[list[int], list[int]]


def read_pairs(path: Path, sources: tuple[str, ...] | None = None, edits: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """English TAB Spanish lines of collect.py; with ``sources``, distill.py's lines (a third column) from those sources.

    ``edits``: postedit.py's corrections of the teacher, applied to distill.py's lines.
    """
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line]
    if sources is None:
        return [(row[0], row[1]) for row in rows]
    return [(row[0], post_edit(row[0], row[1], row[2], edits)) for row in rows if len(row) > 2 and row[2] in sources]


def weighted(pairs: list[tuple[str, str]], weight: float, salt: str) -> list[tuple[str, str]]:
    """``pairs`` repeated ``int(weight)`` times plus the share ``weight % 1`` of them, chosen by a hash of each pair."""
    whole, share = int(weight), weight % 1
    kept = [p for p in pairs if int.from_bytes(hashlib.sha1(f"{salt}\0{p[0]}\0{p[1]}".encode()).digest()[:4], "big") < share * 2**32]
    return pairs * whole + kept


def training_pairs(data: Path, opts: TrainOptions) -> tuple[list[tuple[str, str]], dict[str, int], dict[str, int]]:
    """collect.py's human pairs and distill.py's pairs from ``distilled_sources``; pairs per source; pairs post-edited per source.

    Human pairs come ``human_repeats`` times; a source named in ``source_weights`` (collect.py's pairs are
    "human") is kept at that weight instead. The post-edits apply after the weighting, so a run with them
    trains on the same pairs as one without, some of them corrected.
    """
    human = read_pairs(data / "train.tsv")
    pairs = weighted(human, opts.source_weights["human"], "human") if "human" in opts.source_weights else human * opts.human_repeats
    counts, edited = {"human": len(pairs)}, {}
    if opts.distilled_sources:
        distilled = data / "distilled.tsv"
        if not distilled.is_file():
            raise SystemExit(f"train: {distilled} missing; run python -m harness.models.recipes.nmt.distill first")
        by_source: dict[str, list[tuple[str, str]]] = {source: [] for source in opts.distilled_sources}
        for line in distilled.read_text(encoding="utf-8").splitlines():
            row = line.split("\t")
            if len(row) > 2 and row[2] in by_source:
                by_source[row[2]].append((row[0], row[1]))
        for source, rows in by_source.items():  # in options' order (distill.py writes its sources in the same order)
            if not rows:
                raise SystemExit(f"train: {distilled} has no pairs of source {source!r}; rerun distill.py with it")
            kept = weighted(rows, opts.source_weights.get(source, 1.0), source)
            fixed = [(en, post_edit(en, es, source, opts.teacher_post_edits)) for en, es in kept]
            pairs += fixed
            counts[source] = len(kept)
            if opts.teacher_post_edits:
                edited[source] = sum(new != old for new, old in zip(fixed, kept, strict=True))
    return pairs, counts, edited


def train_spm(pairs: list[tuple[str, str]], work: Path, opts: TrainOptions) -> Path:
    """One unigram SentencePiece model on both sides of the training pairs (reused when its input is unchanged)."""
    text = work / "spm_input.txt"
    content = "".join(f"{en}\n{es}\n" for en, es in pairs)
    key = f"{opts.vocab_size} {opts.threads} " + hashlib.sha256(content.encode()).hexdigest()
    if (work / "spm.model").is_file() and (work / "spm.key").is_file() and (work / "spm.key").read_text() == key:
        return work / "spm.model"
    text.write_text(content)
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(work / "spm"), vocab_size=opts.vocab_size, model_type="unigram",
        character_coverage=0.9999, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=-1, pad_id=-1, num_threads=opts.threads,
        input_sentence_size=0, shuffle_input_sentence=False, seed_sentencepiece_size=1000000, minloglevel=2,
    )
    (work / "spm.key").write_text(key)
    return work / "spm.model"


def write_tokenizer(spm_model: Path, hf_dir: Path):
    """MarianTokenizer files (source.spm, target.spm, vocab.json with <pad> last) in ``hf_dir``."""
    from transformers import MarianTokenizer

    hf_dir.mkdir(parents=True, exist_ok=True)
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    vocab["<pad>"] = len(vocab)
    (hf_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    for name in ("source.spm", "target.spm"):
        shutil.copy(spm_model, hf_dir / name)
    tok = MarianTokenizer(source_spm=str(hf_dir / "source.spm"), target_spm=str(hf_dir / "target.spm"),
                          vocab=str(hf_dir / "vocab.json"), source_lang="en", target_lang="es")
    tok.save_pretrained(hf_dir)
    return tok


def encode(pairs: list[tuple[str, str]], sp: spm.SentencePieceProcessor, max_tokens: int) -> list[Example]:
    """Token ids of each pair, ``</s>`` appended, truncated to ``max_tokens``."""
    src = sp.encode([en for en, _ in pairs])
    tgt = sp.encode([es for _, es in pairs])
    return [([*s[: max_tokens - 1], EOS_ID], [*t[: max_tokens - 1], EOS_ID]) for s, t in zip(src, tgt, strict=True)]


def make_batches(examples: list[Example], batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar length holding about ``batch_tokens`` tokens (padded), in shuffled order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]), len(examples[i][1]), i))
    batches, current, longest = [], [], 0
    for i in order:
        longest_next = max(longest, len(examples[i][0]) + len(examples[i][1]))
        if current and longest_next * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest_next = [], len(examples[i][0]) + len(examples[i][1])
        current.append(i)
        longest = longest_next
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Padded tensors: encoder ids and mask, decoder inputs (start = <pad>, as Marian does), labels (-100 = pad)."""
    n, src_len, tgt_len = len(examples), max(len(s) for s, _ in examples), max(len(t) for _, t in examples)
    input_ids = torch.full((n, src_len), pad_id)
    dec_in = torch.full((n, tgt_len), pad_id)
    labels = torch.full((n, tgt_len), -100)
    for row, (s, t) in enumerate(examples):
        input_ids[row, : len(s)] = torch.tensor(s)
        labels[row, : len(t)] = torch.tensor(t)
        dec_in[row, 1 : len(t)] = torch.tensor(t[:-1])
    return {"input_ids": input_ids, "attention_mask": (input_ids != pad_id).long(), "decoder_input_ids": dec_in,
            "labels": labels}


def build_model(opts: TrainOptions, vocab: int):
    """A freshly initialised MarianMTModel; ``vocab`` includes the trailing <pad>."""
    from transformers import MarianConfig, MarianMTModel

    pad = vocab - 1
    config = MarianConfig(
        vocab_size=vocab, decoder_vocab_size=vocab, d_model=opts.d_model, encoder_layers=opts.encoder_layers,
        decoder_layers=opts.decoder_layers, encoder_attention_heads=opts.heads, decoder_attention_heads=opts.heads,
        encoder_ffn_dim=opts.ffn_dim, decoder_ffn_dim=opts.ffn_dim, dropout=opts.dropout, attention_dropout=0.0,
        activation_dropout=0.0, activation_function="swish", max_position_embeddings=opts.max_positions,
        pad_token_id=pad, eos_token_id=EOS_ID, decoder_start_token_id=pad, forced_eos_token_id=EOS_ID,
        share_encoder_decoder_embeddings=True, tie_word_embeddings=True, scale_embedding=True,
        num_beams=4, max_length=opts.max_positions, bad_words_ids=[[pad]],
    )
    return MarianMTModel(config)


def batch_loss(model, batch: dict[str, torch.Tensor], smoothing: float, bf16: bool) -> tuple[torch.Tensor, int]:
    """Summed token cross-entropy of one batch and its token count; ``bf16`` autocasts the forward pass."""
    device = batch["input_ids"].device.type
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       decoder_input_ids=batch["decoder_input_ids"]).logits
    loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), batch["labels"].view(-1), ignore_index=-100,
                           label_smoothing=smoothing, reduction="sum")
    return loss, int((batch["labels"] != -100).sum())


def to_device(batch: dict[str, torch.Tensor], device: str) -> dict[str, torch.Tensor]:
    """The batch's tensors on ``device``."""
    return {name: tensor.to(device) for name, tensor in batch.items()}


@torch.no_grad()
def valid_loss(model, valid: list[Example], pad_id: int, bf16: bool, device: str = "cpu") -> float:
    """Mean per-token NLL (nats, no smoothing) on the validation pairs."""
    model.eval()
    total, tokens = 0.0, 0
    for idx in make_batches(valid, 8000, random.Random(0)):
        loss, n = batch_loss(model, to_device(collate([valid[i] for i in idx], pad_id), device), 0.0, bf16)
        total, tokens = total + float(loss), tokens + n
    model.train()
    return total / tokens


def zero_pad_row(model, pad_id: int) -> None:
    """Keep the <pad> (= decoder start) embedding at zero: CTranslate2 starts Marian decoders from a zero vector."""
    with torch.no_grad():
        model.get_input_embeddings().weight[pad_id].zero_()


def cpu_s() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Trainer:
    """The training loop: schedule, evaluation, best checkpoint, early stopping, time budget, resumable state.

    ``<run>/state.pt`` (model, optimizer, random state, position in the epoch, history, training seconds so
    far) is written at every evaluation that is at least ``checkpoint_every_s`` after the last one, and at
    the end; a new Trainer with the same ``key`` (options and data) continues from it. The time budget
    counts training seconds over all sessions.
    """

    def __init__(self, model, opts: TrainOptions, train: list[Example], valid: list[Example], run: Path,
                 device: str = "cpu", key: str = ""):
        self.model, self.opts, self.train, self.valid, self.run = model, opts, train, valid, run
        self.device, self.key = device, key
        self.pad_id = model.config.pad_token_id
        self.optim = torch.optim.Adam(model.parameters(), lr=opts.lr, betas=(0.9, 0.98), eps=1e-9)
        self.rng = random.Random(opts.seed)
        self.step, self.epoch, self.tokens_seen = 0, 0, 0
        self.best, self.bad_evals, self.history = math.inf, 0, []
        self.best_step = 0
        self.stop_reason = ""
        self.trained_s = 0.0  # training-loop seconds of earlier sessions
        self.batch_index = 0  # batches of the current epoch already trained
        self.epoch_rng: object = None  # self.rng's state when the current epoch's batches were drawn
        self.resumed_from = 0

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then inverse square root of the steps since the schedule began (``schedule_offset_steps`` earlier)."""
        w = self.opts.warmup_steps
        return self.opts.lr * min(step / w, math.sqrt(w / (step + self.opts.schedule_offset_steps)))

    def one_step(self, batch: dict[str, torch.Tensor]) -> float:
        self.step += 1
        for group in self.optim.param_groups:
            group["lr"] = self.lr_at(self.step)
        loss, n = batch_loss(self.model, to_device(batch, self.device), self.opts.label_smoothing, self.opts.bf16)
        self.optim.zero_grad(set_to_none=True)
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optim.step()
        zero_pad_row(self.model, self.pad_id)
        self.tokens_seen += n + int(batch["attention_mask"].sum())
        return float(loss.detach()) / n

    def state_file(self) -> Path:
        return self.run / "state.pt"

    def save_state(self, elapsed: float) -> None:
        state = {
            "key": self.key, "model": self.model.state_dict(), "optim": self.optim.state_dict(),
            "rng": self.rng.getstate(), "epoch_rng": self.epoch_rng, "torch_rng": torch.get_rng_state(),
            "step": self.step, "epoch": self.epoch, "batch_index": self.batch_index, "tokens_seen": self.tokens_seen,
            "best": self.best, "best_step": self.best_step, "bad_evals": self.bad_evals, "history": self.history,
            "trained_s": self.trained_s + elapsed, "stop_reason": self.stop_reason,
        }
        torch.save(state, self.run / "state.tmp")
        (self.run / "state.tmp").replace(self.state_file())

    def resume(self) -> bool:
        """Continue from ``state.pt`` when it was written for the same key; True when it did."""
        if not self.state_file().is_file():
            return False
        state = torch.load(self.state_file(), weights_only=False)
        if state["key"] != self.key:
            print(f"train: {self.state_file()} is from other options or data; starting afresh", flush=True)
            return False
        self.model.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optim"])
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        for name in ("epoch_rng", "step", "epoch", "batch_index", "tokens_seen", "best", "best_step", "bad_evals",
                     "history", "trained_s"):
            setattr(self, name, state[name])
        self.stop_reason = state.get("stop_reason", "")
        self.resumed_from = self.step
        print(f"train: resumed at step {self.step} (epoch {self.epoch}, {self.trained_s:.0f} s trained)", flush=True)
        return True

    def evaluate(self, started: float, train_loss: float) -> bool:
        """Validation loss; saves a new best; True when training should stop."""
        loss = valid_loss(self.model, self.valid, self.pad_id, self.opts.bf16, self.device)
        elapsed = time.perf_counter() - started
        self.history.append({"step": self.step, "epoch": self.epoch, "elapsed_s": round(self.trained_s + elapsed, 1),
                             "train_loss": round(train_loss, 4), "valid_nll": round(loss, 4)})
        print(json.dumps(self.history[-1]), flush=True)
        if loss < self.best - 1e-4:
            self.best, self.best_step, self.bad_evals = loss, self.step, 0
            torch.save(self.model.state_dict(), self.run / "best.pt")
        else:
            self.bad_evals += 1
        if self.opts.average_last:
            keep_recent(self.model.state_dict(), self.run / "recent", self.step, self.opts.average_last)
        if self.bad_evals >= self.opts.patience_evals:
            self.stop_reason = f"early stop: {self.bad_evals} evaluations without improvement"
        elif self.trained_s + elapsed > self.opts.max_train_s:
            self.stop_reason = f"time budget {self.opts.max_train_s:.0f} s reached"
        return bool(self.stop_reason)

    def fit(self, max_steps: int | None = None) -> float:
        """Train until early stop, time budget, ``max_epochs`` or ``max_steps``; the seconds this session trained."""
        started, running, saved = time.perf_counter(), [], time.perf_counter()
        if self.stop_reason.startswith("time budget") and self.trained_s < self.opts.max_train_s:
            self.stop_reason = ""  # stopped at a smaller budget: a longer one (--max-train-s) goes on
        if self.stop_reason:  # a resumed run that had already stopped (time budget, early stop, max_epochs)
            return 0.0
        self.model.train()
        while self.epoch < self.opts.max_epochs or self.batch_index:
            if not self.batch_index:  # a new epoch
                self.epoch += 1
                self.epoch_rng = self.rng.getstate()
            self.rng.setstate(self.epoch_rng)  # type: ignore[arg-type]
            batches = make_batches(self.train, self.opts.batch_tokens, self.rng)
            for idx in batches[self.batch_index :]:
                running.append(self.one_step(collate([self.train[i] for i in idx], self.pad_id)))
                self.batch_index += 1
                if max_steps and self.step >= max_steps:
                    self.stop_reason = f"trial of {max_steps} steps"
                    return time.perf_counter() - started
                if self.step % self.opts.eval_every_steps == 0:
                    stop = self.evaluate(started, float(np.mean(running)))
                    running = []
                    if stop or time.perf_counter() - saved >= self.opts.checkpoint_every_s:
                        self.save_state(time.perf_counter() - started)
                        saved = time.perf_counter()
                    if stop:
                        return time.perf_counter() - started
            self.batch_index = 0
        self.stop_reason = f"max_epochs {self.opts.max_epochs}"
        self.evaluate(started, float(np.mean(running or [math.nan])))
        self.save_state(time.perf_counter() - started)
        return time.perf_counter() - started


def keep_recent(weights: dict[str, torch.Tensor], folder: Path, step: int, keep: int) -> None:
    """Save ``weights`` as ``folder/step-NNNNNN.pt`` and delete all but the ``keep`` latest steps."""
    folder.mkdir(exist_ok=True)
    torch.save(weights, folder / f"step-{step:06d}.pt")
    for old in sorted(folder.glob("step-*.pt"))[:-keep]:
        old.unlink()


def average_recent(folder: Path, keep: int, last_step: int) -> tuple[dict[str, torch.Tensor], list[int]]:
    """The element-wise mean of the ``keep`` latest checkpoints in ``folder`` up to ``last_step``; their steps."""
    files = [f for f in sorted(folder.glob("step-*.pt")) if int(f.stem.split("-")[1]) <= last_step][-keep:]
    if not files:
        return {}, []
    total: dict[str, torch.Tensor] = {}
    for f in files:
        for name, tensor in torch.load(f, map_location="cpu").items():
            total[name] = total[name] + tensor.float() if name in total else tensor.float().clone()
    return {name: tensor / len(files) for name, tensor in total.items()}, [int(f.stem.split("-")[1]) for f in files]


def choose_weights(trainer: Trainer, device: str) -> dict | None:
    """Load the weights to ship into ``trainer.model``; the comparison for train_figures.json (None without averaging).

    The best checkpoint, or the average of the last ``average_last`` evaluations' weights where its validation
    loss is lower (then also saved as ``<run>/averaged.pt``).
    """
    best = torch.load(trainer.run / "best.pt", map_location=device)
    if trainer.opts.average_last < 2:
        trainer.model.load_state_dict(best)
        return None
    averaged, steps = average_recent(trainer.run / "recent", trainer.opts.average_last, trainer.step)
    record: dict = {"steps": steps, "best_step": trainer.best_step, "best_valid_nll": round(trainer.best, 4), "shipped": "best"}
    if len(steps) >= 2:
        trainer.model.load_state_dict(averaged)
        zero_pad_row(trainer.model, trainer.pad_id)
        record["valid_nll"] = round(valid_loss(trainer.model, trainer.valid, trainer.pad_id, trainer.opts.bf16, device), 4)
        if record["valid_nll"] < trainer.best - 1e-4:
            torch.save(trainer.model.state_dict(), trainer.run / "averaged.pt")
            record["shipped"] = "averaged"
            return record
    trainer.model.load_state_dict(best)
    return record


def export(model, tok, out: Path) -> dict[str, int]:
    """Save the Transformers model (weights as float16) and the float32 CTranslate2 conversion; file sizes in bytes.

    The weights ship as float16 so that one copy fits the tree; both runtimes read them back as float32
    (the float16 values exactly), so what is evaluated is what ships.
    """
    from ctranslate2.converters import TransformersConverter

    hf_dir, ct2_dir = out / "hf", out / "ct2"
    model.to(torch.float16).save_pretrained(hf_dir)
    model.to(torch.float32)
    tok.save_pretrained(hf_dir)
    TransformersConverter(str(hf_dir)).convert(str(ct2_dir), quantization="float32", force=True)
    for name in ("source.spm", "target.spm"):
        shutil.copy(hf_dir / name, ct2_dir / name)
    return {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()
            and p.parent.name in ("hf", "ct2")}


def shipped_weights(init: Path) -> Path | None:
    """The Transformers weights of a shipped model folder (``export``'s ``hf/``), where ``init`` is one rather than a run."""
    weights = init / "hf" / "model.safetensors"
    return weights if weights.is_file() else None


def init_tokenizer(init: Path, work: Path) -> Path:
    """A later stage keeps the first stage's vocabulary: ``init``'s spm.model (a shipped model's source.spm) copied into ``work``."""
    if shipped_weights(init):
        source, target = init / "hf" / "source.spm", init / "hf" / "target.spm"
        if not (source.is_file() and target.is_file() and source.read_bytes() == target.read_bytes()):
            raise SystemExit(f"train: --init {init}/hf needs one SentencePiece model as source.spm and target.spm, as export writes")
        shutil.copyfile(source, work / "spm.model")
        return work / "spm.model"
    for name in ("best.pt", "spm.model"):
        if not (init / name).is_file():
            raise SystemExit(f"train: --init {init} has no {name}; train the first stage there first")
    shutil.copyfile(init / "spm.model", work / "spm.model")
    return work / "spm.model"


def init_weights(model, init: Path, device: str) -> str:
    """Load ``init``'s best checkpoint (or a shipped model's float16 weights, as float32) into ``model``; its sha256 (in the run's key)."""
    weights = shipped_weights(init)
    if weights:
        state = type(model).from_pretrained(weights.parent, torch_dtype=torch.float32).state_dict()
    else:
        weights = init / "best.pt"
        state = torch.load(weights, map_location=device)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise SystemExit(f"train: --init {init}'s weights do not fit the options' architecture: {str(exc).splitlines()[0]}") from None
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def run_key(opts: TrainOptions, train: list[Example], init_sha: str) -> str:
    """What makes two runs the same run.

    The options but the time budget (a longer budget continues the run) and ``average_last`` (what is
    kept beside the run, not how it trains), the data (its size and every thousandth example) and the
    checkpoint it started from.
    """
    keyed = {k: v for k, v in asdict(opts).items() if k not in ("max_train_s", "average_last", "continue_schedule")}
    for later in ("schedule_offset_steps", "teacher_post_edits"):
        if not keyed[later]:
            del keyed[later]  # so runs from before the option keep their key
    return hashlib.sha256(json.dumps([keyed, len(train), train[:: max(1, len(train) // 1000)], init_sha]).encode()).hexdigest()


def schedule_steps(init: Path) -> int:
    """How far ``init``'s learning-rate schedule had run: its steps plus the offset it started at (its train_figures.json)."""
    figures = init / "train_figures.json"
    if not figures.is_file():
        raise SystemExit(f"train: continue_schedule needs --init of a run or model with train_figures.json; {init} has none")
    done = json.loads(figures.read_text())
    return done["steps"] + done["options"].get("schedule_offset_steps", 0)


def _init_record(init: Path | None, sha: str) -> dict | None:
    """Where a later stage started: the first stage's folder, checkpoint sha256 and its figures (train_figures.json)."""
    if init is None:
        return None
    figures = init / "train_figures.json"
    return {"run": str(init), "best_pt_sha256": sha, "figures": json.loads(figures.read_text()) if figures.is_file() else None}


def seed_everything(seed: int, threads: int) -> None:
    """Seed Python, NumPy and PyTorch; set PyTorch's thread count."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=PROJECT / "build/nmt/data")
    parser.add_argument("--options", type=Path, default=HERE / "options.toml")
    parser.add_argument("--work", type=Path, default=PROJECT / "build/nmt/run")
    parser.add_argument("--out", type=Path, default=PROJECT / "models/nmt-en-es")
    parser.add_argument("--trial-steps", type=int, default=0, help="time this many steps and stop; ships nothing")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the same recipe; bf16 autocast on either)")
    parser.add_argument("--fresh", action="store_true", help="ignore a saved state.pt and start from step 0")
    parser.add_argument("--max-train-s", type=float, default=0.0,
                        help="training-loop seconds over all sessions instead of options.toml's (the recipe's cap); "
                             "a longer run continues the same schedule from state.pt")
    parser.add_argument("--init", type=Path,
                        help="a finished run's folder (its best.pt and spm.model) or a shipped model's (its hf/): start from its weights")
    args = parser.parse_args()
    wall0, cpu0 = time.perf_counter(), cpu_s()
    opts = TrainOptions.from_toml(args.options)
    if opts.continue_schedule:
        if not args.init:
            raise SystemExit(f"train: {args.options} continues a schedule (continue_schedule = true): give --init")
        opts = replace(opts, schedule_offset_steps=schedule_steps(args.init))
    seed_everything(opts.seed, opts.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    (train_pairs, pairs_by_source, post_edited), valid_pairs = training_pairs(args.data, opts), read_pairs(args.data / "valid.tsv")
    if opts.distilled_sources and (args.data / "valid_distilled.tsv").is_file():  # held-out inputs of the distilled kinds too
        valid_pairs += read_pairs(args.data / "valid_distilled.tsv", opts.distilled_sources, opts.teacher_post_edits)
    spm_model = init_tokenizer(args.init, args.work) if args.init else train_spm(train_pairs, args.work, opts)
    tok = write_tokenizer(spm_model, args.work / "tokenizer")
    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    train, valid = encode(train_pairs, sp, opts.max_tokens), encode(valid_pairs, sp, opts.max_tokens)
    model = build_model(opts, sp.get_piece_size() + 1).to(args.device)
    init_sha = init_weights(model, args.init, args.device) if args.init else ""
    zero_pad_row(model, model.config.pad_token_id)
    params = sum(p.numel() for p in model.parameters())
    print(f"pairs train={len(train)} valid={len(valid)} params={params}", flush=True)
    key = run_key(opts, train, init_sha)
    budget = replace(opts, max_train_s=args.max_train_s) if args.max_train_s else opts  # not in the key: the same run, longer
    trainer = Trainer(model, budget, train, valid, args.work, args.device, key)
    if not args.trial_steps and (args.fresh or not trainer.resume()):
        shutil.rmtree(args.work / "recent", ignore_errors=True)  # a new run: another run's weights are never averaged in
    tokens_before = trainer.tokens_seen
    fit_s = trainer.fit(max_steps=args.trial_steps or None)
    tokens_per_s = (trainer.tokens_seen - tokens_before) / fit_s if fit_s else 0.0
    print(f"{trainer.stop_reason}: {trainer.step} steps, {tokens_per_s:.0f} tokens/s", flush=True)
    if args.trial_steps:
        return
    averaging = choose_weights(trainer, args.device)
    model.to("cpu")
    sizes = export(model, tok, args.out)
    figures = {
        "figures_version": FIGURES_VERSION, "options": asdict(budget), "recipe_max_train_s": opts.max_train_s, "parameters": params,
        "train_pairs": len(train), "train_pairs_by_source": pairs_by_source, "post_edited_pairs_by_source": post_edited,
        "valid_pairs": len(valid),
        "steps": trainer.step, "epochs": trainer.epoch,
        "best_step": trainer.best_step, "best_valid_nll": round(trainer.best, 4), "averaging": averaging,
        "stop_reason": trainer.stop_reason,
        "train_loop_wall_s": round(trainer.trained_s + fit_s, 1), "resumed_at_step": trainer.resumed_from,
        "device": args.device, "wall_s_last_session": round(time.perf_counter() - wall0, 1),
        "cpu_s_last_session": round(cpu_s() - cpu0, 1), "tokens_per_s": round(tokens_per_s, 1),
        "energy_j": None, "energy_note": "unavailable: no energy sensor on the training machine",
        "file_sizes_bytes": sizes, "history": trainer.history, "init": _init_record(args.init, init_sha),
        "machine": {"cpu_count": __import__("os").cpu_count(), "processor": platform.processor(),
                    "python": platform.python_version(), "torch": torch.__version__},
    }
    for folder in (args.out, args.work):  # the run's copy is what a later stage's --init reads
        (folder / "train_figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k not in ("history", "options")}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
