"""A tiny Marian model built from scratch (no network), converted to CTranslate2, shared by the MT tests.

SentencePiece is trained on the project's phrasebook (English + Spanish, one shared model saved as both
source.spm and target.spm); the vocabulary follows OPUS-MT's layout: </s> = 0, <unk> = 1, the pieces,
<pad> last (the decoder's start token, which the CTranslate2 converter drops). Weights are random with a
fixed seed, drawn wide (std 0.5) so that outputs differ from input to input, with a bias towards </s>
so that some outputs end before the length limit and others run into it: the output is nonsense, but
the same nonsense in every runtime.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from harness.sources.phrasebook import load_phrasebook

TEXTS = ["Platform 2", "Bus stop", "", "No entry for pedestrians", "Exit"]

_built: dict[Path, TinyModels] = {}


@dataclass(frozen=True)
class TinyModels:
    """The Transformers directory and its CTranslate2 conversions, keyed by quantization."""

    hf: Path
    ct2: dict[str, Path]


def train_spm(lines: list[str], vocab_size: int) -> bytes:
    """A unigram SentencePiece model with Marian's special ids, as bytes."""
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        eos_id=0,
        unk_id=1,
        bos_id=-1,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
        hard_vocab_limit=False,
    )
    return model.getvalue()


def phrasebook_lines(*languages: str) -> list[str]:
    entries = load_phrasebook()
    return [text for lang in languages for e in entries if (text := e.en if lang == "en" else e.translation(lang))]


def build_tiny_marian(out: Path, seed: int = 0) -> Path:
    """Write a tiny random-weight Marian model with its tokenizer files into ``out``."""
    import sentencepiece
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    out.mkdir(parents=True, exist_ok=True)
    spm = train_spm(phrasebook_lines("en", "es"), vocab_size=300)
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes(spm)
    processor = sentencepiece.SentencePieceProcessor(model_proto=spm)
    vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    vocab["<pad>"] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    pad = len(vocab) - 1
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad and parameter.dim() > 1:  # not the fixed sinusoidal positions
                parameter.normal_(0.0, 0.5)
        model.get_input_embeddings().weight[pad].zero_()  # CTranslate2 starts decoding from a zero embedding
        model.final_logits_bias[0, 0] = 4.0
    model.save_pretrained(out)
    MarianTokenizer(str(out / "source.spm"), str(out / "target.spm"), str(out / "vocab.json")).save_pretrained(out)
    return out


def tiny_models(tmp_path_factory) -> TinyModels:
    """Build (once per session) the tiny model and its float32 and int8 CTranslate2 conversions."""
    from harness.models.fetch import convert_marian

    root = tmp_path_factory.getbasetemp() / "tiny-marian"
    if root not in _built:
        hf = build_tiny_marian(root / "hf")
        _built[root] = TinyModels(hf, {q: convert_marian(hf, root / f"ct2-{q}", q) for q in ("float32", "int8")})
    return _built[root]
