"""Accuracy of recognized and translated text against a frame's ground truth.

- ``ocr_cer``: character error rate between the recognized and the true text of the frame, both
  case-folded and reduced to letters and digits, so spacing and punctuation are not scored (recognizers
  often merge or split words at spaces). It is order-sensitive: two signs read in another order than
  the ground truth lists them cost edits. Frames without legible reference text get no CER. The
  order-free measures are ``ocr_word_recall`` and the IC15 protocol counts below.
- ``ocr_cer_spaced`` and the word error counts (``word_*``, ``harness.metrics.words``): the same
  comparison with the spaces kept, so a merged or split word is an error ("Staffonly" for "Staff only"
  is CER 0 but WER 1); a configuration's ``ocr_wer`` is its summed word edits over its summed reference
  words.
- ``ocr_word_recall``: share of the true legible words (case-folded, alphanumeric) that occur among the
  recognized words.
- ``mt_chrf``: sentence chrF (sacrebleu, case-insensitive) of the frame's translated text against its
  reference translation: an end-to-end score, since OCR errors reach it.
- ``degenerate``: whether a translation repeats itself the way broken decoders do (one letter five times
  running, one word four times running, one word 3-gram three times); a configuration's
  ``mt_degenerate_lines`` counts its translated regions that do.
- ``corpus_scores``: corpus BLEU and chrF over a configuration's frames, with sacrebleu's defaults
  (13a tokenization, case-sensitive: as MT papers and the OPUS-MT model cards report them).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rapidfuzz.distance import Levenshtein
from sacrebleu.metrics import BLEU, CHRF

from harness.metrics.detection import match_frame
from harness.metrics.recognition import RecognitionCounts
from harness.metrics.words import spaced_cer, word_errors
from harness.types import GroundTruth, TextRegion

__all__ = [
    "CHRF_METRIC", "cer", "chrf_signature", "corpus_scores", "corpus_signatures", "degenerate", "frame_accuracy", "normalize",
    "word_recall",
]

CHRF_METRIC = CHRF(lowercase=True)
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_LETTER_RUN = re.compile(r"([^\W\d_])\1{4}")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def normalize(text: str) -> str:
    """Case-folded letters and digits only."""
    return _NON_ALNUM.sub("", text.casefold())


def degenerate(text: str) -> bool:
    """Whether a translation loops: one letter five times running, one word four times running, or one word 3-gram three times.

    Words are split at spaces, case-folded and stripped of the punctuation around them ("¡Nunca nunca,
    nunca nunca!" loops; "%s%s%s%s" is one word). No correct translation of a sign or an everyday sentence
    does this; the first shipped NMT model did ("Elevator" → about 256 × "r").
    """
    if _LETTER_RUN.search(text):
        return True
    words = [w for w in (_EDGES.sub("", w) for w in text.casefold().split()) if w]
    if any(len(set(words[i : i + 4])) == 1 for i in range(len(words) - 3)):
        return True
    grams = Counter(tuple(words[i : i + 3]) for i in range(len(words) - 2))
    return any(count >= 3 for count in grams.values())


def cer(hypothesis: str, reference: str) -> float:
    """Levenshtein distance over the reference length, on normalized text (1.0 if nothing matches)."""
    hyp, ref = normalize(hypothesis), normalize(reference)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(hyp, ref) / len(ref)


def word_recall(recognized: Sequence[str], truth_words: Sequence[str]) -> float | None:
    """Share of truth words found among recognized words (multiset, normalized); None without words."""
    wanted = Counter(w for w in (normalize(t) for t in truth_words) if w)
    if not wanted:
        return None
    have = Counter(w for w in (normalize(t) for text in recognized for t in text.split()) if w)
    return sum(min(count, have[word]) for word, count in wanted.items()) / sum(wanted.values())


def _protocol_counts(truth: GroundTruth, regions: Sequence[TextRegion]) -> dict[str, int]:
    if truth.crop:
        label = truth.words[0].text if truth.words else truth.source_text
        counts = RecognitionCounts.of(" ".join(r.text for r in regions), label)
        return {"rec_words": counts.words, "rec_correct": counts.correct, "rec_edits": counts.edits, "rec_label_chars": counts.label_chars}
    if not truth.words:
        return {}
    matched = match_frame(truth.words, regions).counts
    return {
        "det_gt_care": matched.gt_care,
        "det_det_care": matched.det_care,
        "det_matched": matched.matched,
        "e2e_correct": matched.e2e_correct,
    }


def chrf_signature() -> str:
    """Sacrebleu's signature of the chrF configuration (one reference per frame), for the manifest."""
    metric = CHRF(lowercase=True)
    metric.sentence_score("", [""])  # sacrebleu knows the reference count only after one evaluation
    return str(metric.get_signature())


def frame_accuracy(truth: GroundTruth | None, regions: Sequence[TextRegion] | None, targets: Sequence[str] | None) -> dict[str, Any]:
    """Per-frame accuracy figures; empty without ground truth. ``regions`` None: OCR did not run.

    Besides the scores above, frames with word boxes get the IC15 detection and end-to-end counts
    (``det_gt_care``, ``det_det_care``, ``det_matched``, ``e2e_correct``) and word crops get the
    recognition counts (``rec_words``, ``rec_correct``, ``rec_edits``, ``rec_label_chars``): counts, so a
    configuration's precision, recall, hmean, accuracy and CER are computed from their sums.
    """
    if truth is None:
        return {}
    scores: dict[str, Any] = {}
    if regions is not None:
        texts = [r.text for r in regions]
        legible = [w.text for w in truth.words if not w.dont_care]
        if normalize(truth.source_text):
            scores["ocr_cer"] = cer(" ".join(texts), truth.source_text)
            scores["ocr_cer_spaced"] = spaced_cer(" ".join(texts), truth.source_text)
            scores.update(word_errors(" ".join(texts), truth.source_text).counts())
        scores["ocr_word_recall"] = word_recall(texts, legible)
        scores.update(_protocol_counts(truth, regions))
    if targets is not None and truth.reference_translation is not None:
        hypothesis = " ".join(t for t in targets if t)
        scores["mt_chrf"] = CHRF_METRIC.sentence_score(hypothesis, [truth.reference_translation]).score
    return scores


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu defaults, one reference per segment)."""
    return {
        "mt_bleu": BLEU().corpus_score(list(hypotheses), [list(references)]).score,
        "mt_chrf_corpus": CHRF().corpus_score(list(hypotheses), [list(references)]).score,
    }


def corpus_signatures() -> dict[str, str]:
    """Sacrebleu's signatures of the corpus metrics, for the manifest."""
    bleu, chrf = BLEU(), CHRF()
    bleu.corpus_score([""], [[""]])
    chrf.corpus_score([""], [[""]])
    return {"mt_bleu": str(bleu.get_signature()), "mt_chrf_corpus": str(chrf.get_signature())}
