"""Compare fp32 PP-OCRv4 with int8 builds of it on ONNX Runtime (CPU): accuracy and speed.

Measures, per variant: the shipped fp32 models always; with ``--build``, the recipe's int8 set and its
"fp32 rewritten" set (the same exact graph rewrites, no quantization, to tell their share of the
speed-up from int8's); with ``--variant``, sets built before:

- word crops of the tuning photos (``icdar2015_incidental_tune150``: each legible ground-truth quad
  warped upright, as the det-side crop would be; recognition only, the rec model on each crop, batch of
  one): word accuracy (case-insensitive, letters and digits, exact match) and CER (edits / reference
  characters over the whole set), on the crops whose normalized label is not empty;
- det+cls+rec on the tuning photos through ``RapidOCR.__call__``: median ms per photo (of ``--repeats``)
  averaged over photos, and word recall of the legible words;
- per model: det on one 960x540 synthetic scene (RapidOCR's preprocessing makes it 1312x736), rec and cls
  on one batch of six crops of it; median ms of ``--runs`` after ``--warmup`` runs.

Sessions are RapidOCR's own (``OrtInferSession``) with ``--threads`` intra-op threads. Variants are timed
in alternation, run by run, so load from other processes on a shared machine hits them alike.

    python -m harness.models.recipes.eval_ocr_int8 --build build/int8-ppocrv4 [--settings int8.toml]
    python -m harness.models.recipes.eval_ocr_int8 --variant int8=build/int8-ppocrv4/int8 --variant other=DIR

``--settings`` is a TOML table of ``Int8Settings`` fields, with [det] / [rec] / [cls] sub-tables of
``PartSettings`` fields (e.g. ``[rec]`` ``keep_float = ["first_convs:10"]``).

This is a tuning tool: it reads the tuning split only (IC15 photos 201-350), never a test split, so what
it helps choose is reported on data it never saw (experiments/ocr-quant.toml). Calibration never sees
these photos or crops either: ``--build`` calibrates on synthetic scenes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tomllib
from rapidfuzz.distance import Levenshtein
from rapidocr_onnxruntime import RapidOCR
from rapidocr_onnxruntime.utils import OrtInferSession

from harness.metrics.text import normalize, word_recall
from harness.models.manifest import model_root
from harness.models.recipes.ort_int8 import MODEL_FILES, Int8Settings, PartSettings, build_ppocr_int8, built_files
from harness.paths import data_root
from harness.sources.icdar2015 import parse_gt_file
from harness.sources.synthetic import SceneOptions, generate_scene


@dataclass
class Scores:
    """What one variant measured; times in seconds, sizes in bytes."""

    name: str
    files: dict[str, Path]
    word_acc: float = float("nan")
    word_cer: float = float("nan")
    words: int = 0
    photo_s: list[float] = field(default_factory=list)
    photo_recall: float = float("nan")
    model_s: dict[str, float] = field(default_factory=dict)


def engine(files: dict[str, Path], threads: int) -> RapidOCR:
    """A RapidOCR pipeline on these model files."""
    paths = {f"{part}_model_path": str(path) for part, path in files.items()}
    return RapidOCR(**paths, intra_op_num_threads=threads, inter_op_num_threads=1)


TUNING = "icdar2015_incidental_tune150"  # the tuning split; the test photos are never read here


def word_crops(limit: int) -> list[tuple[np.ndarray, str]]:
    """Word crops (BGR) of the tuning photos with their normalized labels: each legible quad warped upright."""
    items = []
    for image, truth in tuning_photos(0):
        for word in truth.words:
            label = normalize(word.text)
            if word.dont_care or not label:
                continue
            crop = upright_word(image, np.array(word.quad, dtype=np.float32))
            if crop is not None:
                items.append((crop, label))
            if limit and len(items) >= limit:
                return items
    return items


def upright_word(image: np.ndarray, quad: np.ndarray, min_side: int = 4) -> np.ndarray | None:
    """The word in ``quad`` warped upright, as the det side crops it; None when a side is under ``min_side`` px."""
    width = int(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])))
    if width < min_side or height < min_side:
        return None
    upright = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(quad, upright)
    return cv2.warpPerspective(image, warp, (width, height), borderMode=cv2.BORDER_REPLICATE)


def tuning_photos(count: int) -> list[tuple[np.ndarray, Any]]:
    """The first ``count`` tuning photos by number (0: all) with their ground truth."""
    root = data_root() / TUNING
    paths = sorted((root / "images").glob("img_*.jpg"), key=lambda p: int(p.stem.split("_")[1]))[: count or None]
    return [(cv2.imread(str(path)), parse_gt_file(root / "gt" / f"gt_{path.stem}.txt")) for path in paths]


def score_words(scores: Scores, ocr: RapidOCR, crops: list[tuple[np.ndarray, str]]) -> None:
    """Word accuracy and CER of the recognizer alone, one crop per batch as recognition benchmarks run it."""
    right = edits = chars = 0
    for image, label in crops:
        ((text, _),) = ocr.text_rec([image])[0]
        hyp = normalize(text)
        right += hyp == label
        edits += Levenshtein.distance(hyp, label)
        chars += len(label)
    scores.word_acc, scores.word_cer, scores.words = right / len(crops), edits / chars, len(crops)


def photos(count: int) -> list[tuple[np.ndarray, list[str]]]:
    """The first ``count`` tuning photos by number with their legible words."""
    return [(image, [w.text for w in truth.words if not w.dont_care]) for image, truth in tuning_photos(count)]


def time_photos(variants: list[Scores], ocrs: list[RapidOCR], images: list[tuple[np.ndarray, list[str]]], repeats: int) -> None:
    """Median seconds per photo through ``RapidOCR.__call__``, variants in turn; then word recall per variant."""
    recalls: list[list[float]] = [[] for _ in variants]
    for image, words in images:
        runs: list[list[float]] = [[] for _ in variants]
        for _ in range(repeats):
            for i, ocr in enumerate(ocrs):
                start = time.perf_counter()
                result, _ = ocr(image)
                runs[i].append(time.perf_counter() - start)
        for i, ocr in enumerate(ocrs):
            variants[i].photo_s.append(statistics.median(runs[i]))
            texts = [r[1] for r in result] if (result := ocr(image)[0]) else []
            recall = word_recall(texts, words)
            if recall is not None:
                recalls[i].append(recall)
    for scores, values in zip(variants, recalls, strict=True):
        scores.photo_recall = statistics.fmean(values)


def model_inputs(ocr: RapidOCR) -> dict[str, dict[str, np.ndarray]]:
    """One det input (a 960x540 synthetic scene) and one cls and rec batch of six crops from it."""
    image, truth = generate_scene(SceneOptions(seed=7, n=1, difficulty="easy"), 0)
    det_x = ocr.text_det.get_preprocess(max(image.shape[:2]))(image)
    quads = [np.array(w.quad, dtype=np.float32) for w in truth.words][:6]
    crops = ocr.get_crop_img_list(image, quads)
    crops = (crops * 6)[:6]
    widest = max([320 / 48, *(c.shape[1] / c.shape[0] for c in crops)])
    rec_x = np.stack([ocr.text_rec.resize_norm_img(c, widest) for c in crops]).astype(np.float32)
    cls_x = np.stack([ocr.text_cls.resize_norm_img(c) for c in crops]).astype(np.float32)
    return {"det": {"x": det_x}, "cls": {"x": cls_x}, "rec": {"x": rec_x}}


def time_models(variants: list[Scores], inputs: dict[str, dict[str, np.ndarray]], threads: int, warmup: int, runs: int) -> None:
    """Median seconds per model call, in RapidOCR's own sessions, variants in turn."""
    for part, feed in inputs.items():
        options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        sessions = [OrtInferSession({"model_path": str(v.files[part]), **options}) for v in variants]
        calls: list[Callable[[], Any]] = [lambda s=s, feed=feed: s.session.run(None, feed) for s in sessions]
        samples = alternate(calls, warmup, runs)
        for scores, values in zip(variants, samples, strict=True):
            scores.model_s[part] = statistics.median(values)


def alternate(calls: list[Callable[[], Any]], warmup: int, runs: int) -> list[list[float]]:
    """Seconds per call for each callable, run in turn; warm-up runs are not kept."""
    for _ in range(warmup):
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            samples[i].append(time.perf_counter() - start)
    return samples


def table(variants: list[Scores]) -> str:
    """The comparison as a plain-text table, one column per variant."""
    base = variants[0]
    rows = [
        ("tune150 word accuracy (%)", lambda v: f"{100 * v.word_acc:.2f}"),
        ("tune150 word CER (%)", lambda v: f"{100 * v.word_cer:.2f}"),
        ("tune150 photos word recall (%)", lambda v: f"{100 * v.photo_recall:.2f}"),
        ("det ms (960x540 -> 1312x736)", lambda v: f"{1e3 * v.model_s['det']:.1f}"),
        ("cls ms (batch 6)", lambda v: f"{1e3 * v.model_s['cls']:.2f}"),
        ("rec ms (batch 6)", lambda v: f"{1e3 * v.model_s['rec']:.2f}"),
        ("det+cls+rec ms per photo", lambda v: f"{1e3 * statistics.fmean(v.photo_s):.1f}"),
        ("speed-up per photo (x)", lambda v: f"{statistics.fmean(base.photo_s) / statistics.fmean(v.photo_s):.2f}"),
        ("det / cls / rec MB", lambda v: " / ".join(f"{v.files[p].stat().st_size / 1e6:.2f}" for p in ("det", "cls", "rec"))),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{'':{width}}  " + "  ".join(f"{v.name:>20}" for v in variants)]
    lines += [f"{label:{width}}  " + "  ".join(f"{cell(v):>20}" for v in variants) for label, cell in rows]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, help="build the int8 set (and its float rewrite) under this folder first")
    parser.add_argument("--settings", type=Path, help="TOML file of Int8Settings for --build (default: the recipe's defaults)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=DIR", help="an already built set to compare")
    parser.add_argument("--words", type=int, default=0, help="first N word crops of the tuning photos (0: all, about 540)")
    parser.add_argument("--photos", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per photo and variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the scores here")
    return parser.parse_args()


def build(folder: Path, settings_path: Path | None) -> list[Scores]:
    """Build the int8 set into ``folder/int8`` and, for reference, its float rewrite into ``folder/float``.

    The float rewrite is the prepared graph the int8 set was quantized from (exact rewrites, no
    quantization): it shows how much of the speed-up is the rewrite and how much int8.
    """
    table = tomllib.loads(settings_path.read_text(encoding="utf-8")) if settings_path else {}
    settings = Int8Settings.from_dict(table)
    floats = replace(settings, **{part: PartSettings(mode="float") for part in ("det", "cls", "rec")})
    variants = []
    for name, chosen in (("fp32 rewritten", floats), ("int8", settings)):
        start = time.perf_counter()
        build_ppocr_int8(model_root("rapidocr"), folder / name.split()[-1], chosen)
        print(f"built {name} into {folder / name.split()[-1]} in {time.perf_counter() - start:.0f} s", flush=True)
        variants.append(Scores(name, built_files(folder / name.split()[-1])))
    return variants


def main() -> None:
    """Build if asked, measure every variant, print the table."""
    args = parse_args()
    variants = [Scores("fp32 (shipped)", {p: model_root("rapidocr") / n for p, n in MODEL_FILES.items()})]
    if args.build:
        variants += build(args.build, args.settings)
    for spec in args.variant:
        name, _, folder = spec.partition("=")
        variants.append(Scores(name, built_files(Path(folder))))
    load_before = os.getloadavg()[0]
    ocrs = [engine(v.files, args.threads) for v in variants]
    crops = word_crops(args.words)
    for scores, ocr in zip(variants, ocrs, strict=True):
        score_words(scores, ocr, crops)
    time_models(variants, model_inputs(ocrs[0]), args.threads, args.warmup, args.runs)
    time_photos(variants, ocrs, photos(args.photos), args.repeats)
    print(table(variants))
    print(
        f"{len(crops)} IC15 word crops, {args.photos} IC15 photos, {args.threads} intra-op threads; "
        f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after on {os.cpu_count()} CPUs"
    )
    if args.json:
        rows = [{**vars(v), "files": {p: str(f) for p, f in v.files.items()}} for v in variants]
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
