"""The NMT recipe's decontamination, dictionary reading, distillation sampling and resumable training."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from harness.models.recipes.nmt.decontam import Decontaminator, evaluation_files, evaluation_lines
from harness.models.recipes.nmt.distill import BIDIX, bidix_lemmas, case_variants, sample, sentences
from harness.paths import data_root

TEST_SENTENCE = "The old man was sitting on a bench in the park near the station."


def test_exact_matches_ignore_case_punctuation_and_spacing() -> None:
    blocked = Decontaminator.from_lines(["Bus stop", TEST_SENTENCE])
    assert blocked.match("BUS  STOP!") == "exact"
    assert blocked.match("bus-stop") == "exact"
    assert blocked.match("Bus stops") is None  # short strings: exact only


def test_near_duplicates_of_long_lines_are_caught_both_ways() -> None:
    blocked = Decontaminator.from_lines([TEST_SENTENCE])
    assert blocked.match("The old man was sitting on a bench in the park near the river.") == "near"  # a word changed
    assert blocked.match(f"He said: {TEST_SENTENCE} Then he left.") == "near"  # inside a longer string
    assert blocked.match("The old man was sitting on a bench.") == "near"  # a part of it
    assert blocked.match("A young woman is reading the newspaper at the train station today.") is None
    assert blocked.pair_match("Open the file", TEST_SENTENCE.upper()) == "exact"


@pytest.mark.skipif(not (data_root() / "flores101_devtest").is_dir(), reason="evaluation data not here (ARBENCH_DATA_ROOT)")
def test_every_evaluation_line_is_blocked() -> None:
    files = evaluation_files()
    blocked = Decontaminator.from_files(files)
    lines = [line for line in evaluation_lines(files) if line.strip()]
    assert len(lines) > 10_000 and len(blocked.sha256) == len(files)
    for line in random.Random(0).sample(lines, 300):
        assert blocked.match(line) == "exact"


def test_shipped_training_data_was_decontaminated_against_every_evaluation_set() -> None:
    """The model card's data manifest names the evaluation files it was checked against, by sha256."""
    import json

    from harness.models.recipes.nmt.decontam import EVAL_FILES, PHRASEBOOK

    manifest = json.loads(Path("models/nmt-en-es/data_manifest.json").read_text())
    checked = manifest.get("decontaminated_against_sha256")
    if checked is None:
        pytest.skip("the shipped model predates decontamination records (manifest_version 1)")
    assert set(checked) == {Path(name).name for name in (*EVAL_FILES, PHRASEBOOK)}
    here = {path.name: path for path in evaluation_files() if path.is_file()}
    import hashlib

    for name, digest in checked.items():
        if name in here:
            assert hashlib.sha256(here[name].read_bytes()).hexdigest() == digest, f"{name} changed since decontamination"


@pytest.mark.skipif(shutil.which("lt-print") is None or not BIDIX.is_file(), reason="lt-print (lttoolbox-dev) or apertium-eng-spa missing")
def test_the_bilingual_dictionary_gives_sign_length_english_lemmas() -> None:
    att = subprocess.run(["lt-print", str(BIDIX)], capture_output=True, text=True, check=True).stdout
    lemmas = bidix_lemmas(att)
    nouns = {lemma for lemma, pos in lemmas if pos == "<n>"}
    assert len(nouns) > 5000
    assert {"house", "bus", "elevator"} <= nouns
    assert any(" " in lemma for lemma in nouns)  # multiword entries
    assert all("<" not in lemma and not lemma.startswith(" ") for lemma, _ in lemmas)


def test_bidix_lemmas_reads_lt_print_text() -> None:
    """Two entries sharing a prefix, a multiword one with a space symbol, and a cycle that must not be followed."""
    att = "\n".join([
        "0\t1\tb\tb\t0.000000\t", "1\t2\tu\tu\t0.000000\t", "2\t3\ts\ts\t0.000000\t", "3\t9\t<n>\t<n>\t0.000000\t",
        "3\t4\t@_SPACE_@\t@_SPACE_@\t0.000000\t", "4\t5\ts\ts\t0.000000\t", "5\t6\tt\tt\t0.000000\t",
        "6\t7\to\to\t0.000000\t", "7\t8\tp\tp\t0.000000\t", "8\t9\t<n>\t<n>\t0.000000\t",
        "9\t0.000000", "--", "0\t1\tx\tx\t0.000000\t", "1\t3\tε\tε\t0.000000\t", "3\t1\ty\ty\t0.000000\t",
        "1\t2\t<adj>\t<adj>\t0.000000\t", "2\t0.000000",
    ])  # fmt: skip
    assert bidix_lemmas(att) == [("bus", "<n>"), ("bus stop", "<n>"), ("x", "<adj>")]  # not "xyx"


def test_distillation_inputs() -> None:
    assert case_variants(["bus stop", "The station is closed on Sundays and holidays."]) == [
        "bus stop", "BUS STOP", "Bus Stop", "The station is closed on Sundays and holidays."
    ]  # fmt: skip
    texts = [f"text {i}" for i in range(100)]
    chosen = sample(texts, 10, "ui")
    assert len(chosen) == 10 and chosen == sample(list(reversed(texts)), 10, "ui")[::-1]  # by hash, not by position
    prose = "This package provides a tool. See http://x.org for more. Very small. It is small."
    assert sentences(prose) == ["This package provides a tool.", "It is small."]  # no URL, at least three words


def _tiny_trainer(tmp_path: Path, name: str, **changes: float):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from harness.models.recipes.nmt.train import Trainer, TrainOptions, build_model, seed_everything

    opts = TrainOptions(vocab_size=40, d_model=16, heads=2, encoder_layers=1, decoder_layers=1, ffn_dim=32, max_positions=32,
                        max_tokens=16, warmup_steps=5, batch_tokens=60, eval_every_steps=4, patience_evals=100,
                        max_epochs=3, bf16=False, checkpoint_every_s=0.0, threads=1)  # fmt: skip
    opts = replace(opts, **changes)
    seed_everything(opts.seed, 1)
    rng = random.Random(1)

    def ids() -> list[int]:
        return [rng.randrange(2, 39) for _ in range(rng.randrange(2, 8))] + [0]

    examples = [(ids(), ids()) for _ in range(60)]
    run = tmp_path / name
    run.mkdir(exist_ok=True)
    return Trainer(build_model(opts, 41), opts, examples[:50], examples[50:], run, "cpu", "key"), torch


def test_training_resumes_where_it_stopped_and_ends_where_an_uninterrupted_run_does(tmp_path: Path) -> None:
    straight, torch = _tiny_trainer(tmp_path, "straight")
    straight.fit()
    interrupted, _ = _tiny_trainer(tmp_path, "interrupted")
    interrupted.fit(max_steps=6)  # stops mid-epoch, after the checkpoint at step 4
    resumed, _ = _tiny_trainer(tmp_path, "interrupted")
    assert resumed.resume() and resumed.step == 4 and resumed.batch_index > 0
    resumed.fit()
    assert (resumed.step, resumed.epoch, resumed.best_step) == (straight.step, straight.epoch, straight.best_step)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    other, _ = _tiny_trainer(tmp_path, "interrupted")
    other.key = "other options"
    assert not other.resume()  # a state from other options or data is never continued


def test_a_run_stopped_by_its_time_budget_goes_on_under_a_longer_one(tmp_path: Path) -> None:
    short, _ = _tiny_trainer(tmp_path, "run", max_train_s=1e-9)
    short.fit()
    assert short.stop_reason.startswith("time budget") and short.step == 4  # stops at the first evaluation past the budget
    again, _ = _tiny_trainer(tmp_path, "run", max_train_s=1e-9)
    assert again.resume() and again.fit() == 0.0 and again.step == 4  # the same budget: nothing more to do
    longer, _ = _tiny_trainer(tmp_path, "run", max_train_s=3600.0)
    assert longer.resume()
    longer.fit()
    assert longer.step > 4 and not longer.stop_reason.startswith("time budget")


def test_the_last_evaluations_are_kept_and_their_average_ships_where_its_validation_loss_is_lower(tmp_path: Path) -> None:
    trainer, torch = _tiny_trainer(tmp_path, "run", average_last=3, max_epochs=6)
    from harness.models.recipes.nmt.train import average_recent, choose_weights, valid_loss

    trainer.fit()
    evaluated = sorted({h["step"] for h in trainer.history})  # the end of max_epochs evaluates its last step again
    kept = sorted(trainer.run.glob("recent/step-*.pt"))
    assert [int(f.stem[5:]) for f in kept] == evaluated[-3:] and len(evaluated) > 3
    averaged, steps = average_recent(trainer.run / "recent", 3, trainer.step)
    assert steps == evaluated[-3:]
    loaded = [torch.load(f) for f in kept]
    for name, tensor in averaged.items():
        assert torch.allclose(tensor, sum(w[name] for w in loaded) / 3), name
    assert average_recent(trainer.run / "recent", 3, evaluated[-2])[1] == evaluated[-3:-1]  # never a later step than asked
    record = choose_weights(trainer, "cpu")
    assert record is not None and record["steps"] == steps and record["best_step"] == trainer.best_step
    shipped = trainer.model.state_dict()
    if record["shipped"] == "averaged":
        assert record["valid_nll"] < record["best_valid_nll"]
        assert all(torch.equal(t, torch.load(trainer.run / "averaged.pt")[n]) for n, t in shipped.items())
    else:
        assert record["valid_nll"] >= record["best_valid_nll"] - 1e-4 and not (trainer.run / "averaged.pt").exists()
        assert all(torch.equal(t, torch.load(trainer.run / "best.pt")[n]) for n, t in shipped.items())
    assert round(valid_loss(trainer.model, trainer.valid, trainer.pad_id, False), 4) == min(record["valid_nll"], record["best_valid_nll"])


@pytest.mark.parametrize("average_last", [0, 3])
def test_a_run_that_stops_improving_stops_after_patience_evaluations(tmp_path: Path, average_last: int) -> None:
    trainer, _ = _tiny_trainer(tmp_path, "run", lr=0.0, patience_evals=2, average_last=average_last)  # the weights never move
    trainer.fit()
    assert trainer.stop_reason == "early stop: 2 evaluations without improvement"
    assert (trainer.best_step, trainer.step) == (4, 12)


def test_source_weights_keep_a_share_or_repeat_a_source(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from harness.models.recipes.nmt.train import TrainOptions, training_pairs, weighted

    pairs = [(f"en {i}", f"es {i}") for i in range(2000)]
    half = weighted(pairs, 0.5, "ui")
    assert 900 < len(half) < 1100 and set(half) <= set(pairs) and half == weighted(list(pairs), 0.5, "ui")
    assert weighted(pairs, 0.5, "other salt") != half  # the share is chosen per source
    twice = weighted(pairs, 2.25, "ui")
    assert twice[:4000] == pairs * 2 and set(twice[4000:]) == set(weighted(pairs, 0.25, "ui"))
    (tmp_path / "train.tsv").write_text("".join(f"{en}\t{es}\n" for en, es in pairs[:100]))
    sources = ["ui" if i % 2 else "wordnet" for i in range(100)]
    rows = zip(pairs[:100], sources, strict=True)
    (tmp_path / "distilled.tsv").write_text("".join(f"d{en}\td{es}\t{source}\n" for (en, es), source in rows))
    plain, counts, _ = training_pairs(tmp_path, TrainOptions(distilled_sources=("ui", "wordnet")))
    assert len(plain) == 200 and counts == {"human": 100, "ui": 50, "wordnet": 50}
    mix = TrainOptions(distilled_sources=("ui", "wordnet"), source_weights={"human": 0.0, "wordnet": 3.0})
    weighted_mix, counts, _ = training_pairs(tmp_path, mix)
    assert len(weighted_mix) == 50 + 150 and not any(en.startswith("en") for en, _ in weighted_mix)
    assert counts == {"human": 0, "ui": 50, "wordnet": 150}
    with pytest.raises(SystemExit, match="no pairs of source 'quotes'"):
        training_pairs(tmp_path, TrainOptions(distilled_sources=("ui", "quotes")))


def test_a_run_is_keyed_by_options_data_and_start_but_not_by_its_budget(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from harness.models.recipes.nmt.train import TrainOptions, init_tokenizer, run_key

    train = [([5, 6, 0], [7, 0]), ([8, 0], [9, 9, 0])]
    key = run_key(TrainOptions(), train, "")
    assert run_key(TrainOptions(max_train_s=9e9), train, "") == key  # a longer budget continues the same run
    assert run_key(TrainOptions(average_last=5), train, "") == key  # what is kept beside the run, not how it trains
    assert run_key(TrainOptions(lr=0.001), train, "") != key
    assert run_key(TrainOptions(schedule_offset_steps=5250), train, "") != key
    assert run_key(TrainOptions(continue_schedule=True), train, "") == key  # what it resolves to, the offset, is keyed
    assert run_key(TrainOptions(teacher_post_edits=("please",)), train, "") != key
    skip = ("max_train_s", "average_last", "schedule_offset_steps", "continue_schedule", "teacher_post_edits")
    older = {k: v for k, v in asdict(TrainOptions()).items() if k not in skip}
    assert key == hashlib.sha256(json.dumps([older, 2, train, ""]).encode()).hexdigest()  # runs from before the option keep their key
    assert run_key(TrainOptions(source_weights={"ui": 0.5}), train, "") != key
    assert run_key(TrainOptions(), train[:1], "") != key
    assert run_key(TrainOptions(), train, "sha of a first stage") != key
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "spm.model").write_bytes(b"spm")
    with pytest.raises(SystemExit, match=r"has no best\.pt"):
        init_tokenizer(tmp_path / "first", tmp_path)
    (tmp_path / "first" / "best.pt").write_bytes(b"weights")
    (tmp_path / "second").mkdir()
    assert init_tokenizer(tmp_path / "first", tmp_path / "second").read_bytes() == b"spm"  # the first stage's vocabulary


def test_a_shipped_model_folder_starts_a_run_from_the_weights_that_ship(tmp_path: Path) -> None:
    trainer, torch = _tiny_trainer(tmp_path, "run")
    from harness.models.recipes.nmt.train import build_model, init_tokenizer, init_weights

    trainer.fit(max_steps=4)
    shipped = tmp_path / "model"
    trained = {name: tensor.clone() for name, tensor in trainer.model.state_dict().items()}
    trainer.model.to(torch.float16).save_pretrained(shipped / "hf")  # as export() ships the weights
    for name in ("source.spm", "target.spm"):
        (shipped / "hf" / name).write_bytes(b"spm")
    fresh = build_model(trainer.opts, 41)
    sha = init_weights(fresh, shipped, "cpu")
    assert sha == hashlib.sha256((shipped / "hf" / "model.safetensors").read_bytes()).hexdigest()
    for name, tensor in trained.items():  # the float16 values, read back as float32; the sinusoidal positions are computed
        expected = tensor if "embed_positions" in name else tensor.half().float()
        assert fresh.state_dict()[name].dtype == torch.float32 and torch.equal(fresh.state_dict()[name], expected), name
    (tmp_path / "work").mkdir()
    assert init_tokenizer(shipped, tmp_path / "work").read_bytes() == b"spm"
    (shipped / "hf" / "target.spm").write_bytes(b"another vocabulary")
    with pytest.raises(SystemExit, match="one SentencePiece model"):
        init_tokenizer(shipped, tmp_path / "work")
    with pytest.raises(SystemExit, match="do not fit the options' architecture"):
        init_weights(build_model(replace(trainer.opts, d_model=32), 41), shipped, "cpu")


def test_a_schedule_offset_continues_the_learning_rate_decay(tmp_path: Path) -> None:
    plain, _ = _tiny_trainer(tmp_path, "plain")
    later, _ = _tiny_trainer(tmp_path, "later", schedule_offset_steps=100)
    assert later.lr_at(1) == plain.lr_at(1)  # the warm-up of a fresh optimizer, up to the decayed rate
    assert later.lr_at(5) < plain.lr_at(5)
    for step in (5, 20, 400):
        assert later.lr_at(step) == pytest.approx(plain.lr_at(step + 100))
    from harness.models.recipes.nmt.train import schedule_steps

    with pytest.raises(SystemExit, match="continue_schedule needs --init"):
        schedule_steps(tmp_path)
    (tmp_path / "train_figures.json").write_text(json.dumps({"steps": 2500, "options": {"schedule_offset_steps": 5250}}))
    assert schedule_steps(tmp_path) == 7750  # a continued model continues from where its own schedule had got to


def test_the_model_card_names_every_run_a_model_was_trained_on_from() -> None:
    from harness.models.recipes.nmt.card import history_table, stages, stages_section

    def run(steps: int, offset: int = 0, init: dict | None = None, sources: tuple[str, ...] = ("wordnet",)) -> dict:
        options = {"lr": 0.0007, "warmup_steps": 200, "schedule_offset_steps": offset, "source_weights": {"human": 0.3},
                   "distilled_sources": list(sources)}
        history = [{"step": steps, "epoch": 1, "elapsed_s": 10.0, "train_loss": 2.0, "valid_nll": 1.5}]
        return {"options": options, "train_pairs": 100, "steps": steps, "best_step": steps, "best_valid_nll": 1.5, "valid_pairs": 10,
                "train_loop_wall_s": 60.0, "stop_reason": "time budget", "history": history,
                "init": init and {"run": "models/nmt-en-es" if offset else "build/nmt/run", "best_pt_sha256": "ab" * 32, "figures": init}}

    first = run(4500)
    second = run(5250, init=first)
    continued = run(2000, offset=5250, init=second)
    assert [name for name, _ in stages(first)] == ["training"]
    assert [name for name, _ in stages(second)] == ["stage 1", "stage 2"]
    assert [(name, f["steps"]) for name, f in stages(continued)] == [("stage 1", 4500), ("stage 2", 5250), ("stage 2, continued", 2000)]
    assert stages_section(first) == "" and "continued" not in stages_section(second)
    text = stages_section(continued)
    assert "Training ran in 3 runs" in text and "as if 5,250 steps had run before" in text and "`models/nmt-en-es`" in text
    assert history_table(continued).count("| **stage") == 3
    again = run(500, offset=8000, init=continued)
    assert [name for name, _ in stages(again)][2:] == ["stage 2, continued", "stage 2, continued 2"]
    assert "continued 2\" trained the weights that shipped from stage 2, continued (" in stages_section(again)
    assert "on, on the same mix, with a fresh optimizer" in stages_section(again)
    signs = run(500, offset=8000, init=continued, sources=("wordnet", "signs"))
    assert "on, on the same mix with `signs` added, with a fresh optimizer" in stages_section(signs)


def test_the_model_card_says_which_weights_ship() -> None:
    from harness.models.recipes.nmt.card import _shipped

    assert _shipped({}) == "the best checkpoint is shipped."
    averaged = {"steps": [4000, 4250], "best_step": 4250, "best_valid_nll": 1.61, "valid_nll": 1.6, "shipped": "averaged"}
    said = _shipped({"averaging": averaged})
    assert "average of the weights at steps 4,000, 4,250" in said and "NLL, 1.6, is below" in said
    worse = averaged | {"valid_nll": 1.62, "shipped": "best"}
    said = _shipped({"averaging": worse})
    assert said.startswith("the best checkpoint is shipped: the average") and "(validation NLL 1.62)" in said
    assert "too few evaluations" in _shipped({"averaging": {"steps": [250], "best_step": 250, "best_valid_nll": 2.0, "shipped": "best"}})


def test_a_checkpoint_average_is_recorded_with_the_steps_it_averages(tmp_path: Path) -> None:
    from harness.models.recipes.nmt.card import levers_section
    from harness.models.recipes.nmt.checkpoints import checkpoint_record

    history = [{"step": s, "elapsed_s": 10.0 * s} for s in (250, 500, 750)]
    figures = {"averaging": {"steps": [500, 750], "valid_nll": 1.5, "shipped": "averaged"}, "steps": 750,
               "train_loop_wall_s": 7500.0, "history": history, "best_step": 500, "best_valid_nll": 1.6}
    (tmp_path / "train_figures.json").write_text(__import__("json").dumps(figures))
    (tmp_path / "averaged.pt").write_bytes(b"weights")
    record = checkpoint_record(tmp_path, tmp_path / "averaged.pt")
    assert (record["step"], record["averaged_steps"], record["valid_nll"], record["train_loop_s"]) == (750, [500, 750], 1.5, 7500.0)
    (tmp_path / "best.pt").write_bytes(b"best weights")
    best = checkpoint_record(tmp_path, tmp_path / "best.pt")  # a finished run kept without state.pt: its best checkpoint
    assert (best["step"], best["valid_nll"], best["train_loop_s"], best["last_step"]) == (500, 1.6, 5000.0, 750)
    assert "averaged_steps" not in best
    results = {"float32": {"tatoeba-v2021-08-07": {"chrf": 40.0}}}
    table = levers_section([{"label": "averaged", **record, "eval": {"results": results}}])
    assert "| averaged | mean of 500–750 (2) | 1.5 | 40.0 |" in table


def test_validation_nll_per_source_scores_model_folders_on_the_same_pairs(tmp_path: Path) -> None:
    trainer, torch = _tiny_trainer(tmp_path, "run")
    from harness.models.recipes.nmt.train import EOS_ID, encode, train_spm, valid_loss
    from harness.models.recipes.nmt.validation import nll_by_source, validation_sets

    data = tmp_path / "data"
    data.mkdir()
    words = ["bus", "stop", "exit", "open", "closed", "cafe", "left", "right", "no", "entry", "parada", "salida", "abierto",
             "cerrado", "izquierda", "derecha", "entrada", "museum", "museo", "pharmacy", "farmacia", "toilets", "lavabos"]  # fmt: skip
    rng = random.Random(2)
    pairs = [(" ".join(rng.sample(words, 3)), " ".join(rng.sample(words, 2))) for _ in range(200)]
    (data / "valid.tsv").write_text("".join(f"{en}\t{es}\n" for en, es in pairs[:6]))
    (data / "valid_distilled.tsv").write_text("".join(f"{en}\t{es}\t{src}\n" for (en, es), src in zip(pairs[6:12], "aabbbb", strict=True)))
    sets = validation_sets(data)
    assert {k: len(v) for k, v in sets.items()} == {"human": 6, "a": 2, "b": 4}
    spm_model = train_spm(pairs, tmp_path, trainer.opts)  # 40 pieces, as the tiny model's vocabulary
    trainer.fit(max_steps=4)
    shipped = tmp_path / "model"
    trainer.model.to(torch.float16).save_pretrained(shipped / "hf")
    for name in ("source.spm", "target.spm"):
        (shipped / "hf" / name).write_bytes(spm_model.read_bytes())
    figures = nll_by_source(shipped, sets, trainer.opts)
    assert list(figures) == ["human", "a", "b", "all"]
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(spm_model))
    trainer.model.float()
    for source, rows in sets.items():  # the float16 weights that ship, on each source's pairs alone
        examples = encode(rows, sp, trainer.opts.max_tokens)
        assert figures[source]["tokens"] == sum(len(t) for _, t in examples) and all(t[-1] == EOS_ID for _, t in examples)
        expected = valid_loss(trainer.model.half().float(), examples, trainer.model.config.pad_token_id, False)
        assert figures[source]["nll"] == pytest.approx(expected, abs=1e-3)
    tokens = sum(figures[s]["tokens"] for s in sets)
    assert figures["all"]["tokens"] == tokens
    assert figures["all"]["nll"] == pytest.approx(sum(figures[s]["nll"] * figures[s]["tokens"] for s in sets) / tokens, abs=1e-3)


def test_the_model_card_names_the_composed_sign_text_a_model_was_trained_on() -> None:
    from harness.models.recipes.nmt.card import composed_signs

    assert composed_signs({"wordnet", "everyday"}) == ""
    assert composed_signs({"signs"}) == ", sign-like phrases over its nouns of places, food and transport"
    both = composed_signs({"signs", "notices"})
    assert both.startswith(", sign-like phrases")
    assert both.endswith(", and notices (what signs forbid, ask and warn) over sign verbs and its nouns of things")
