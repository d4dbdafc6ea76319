"""Does a rebuilt int8 PP-OCR set read like the shipped one? det hmean and word error on the tuning split.

Where a rebuild cannot give the shipped bytes (another instruction set or library release: calibration
ranges move by float rounding), it must still score like them where users look: within ``HMEAN_MARGIN``
det hmean and ``WER_MARGIN`` of word error rate on ``icdar2015_incidental_tune150`` (never a test split),
both run through the rapidocr backend at the floor tuning as the benchmarks run it.

    python -m harness.models.recipes.agreement BUILT_DIR [SHIPPED_DIR] [--record]   # default: models/ppocrv4-int8

With ``--record``, a rebuild that agrees and whose machine the shipped record does not know yet is
added to the shipped record's ``reproductions`` (its ``built_on`` and hashes): the hashes a build on
that instruction set and those library versions gives, which later builds there must then match byte
for byte.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from harness.context import BackendContext
from harness.metrics.text import frame_accuracy
from harness.paths import project_root
from harness.sources.icdar2015 import Icdar2015Options, Icdar2015Source
from harness.store.summary import accuracy_figures
from harness.trace import Tracer

__all__ = ["HMEAN_MARGIN", "WER_MARGIN", "TuningScores", "agree", "tuning_scores"]

TUNING_SPLIT = "icdar2015_incidental_tune150"
HMEAN_MARGIN = 0.01  # det hmean, absolute
WER_MARGIN = 0.005  # word error rate, absolute (0.5 points)


@dataclass(frozen=True)
class TuningScores:
    """One set's figures on the tuning photos."""

    photos: int
    det_hmean: float
    e2e_hmean: float
    wer: float  # order-free (``ocr_wer_bag``): a photo's ground truth lists its words in no reading order


def tuning_scores(folder: Path, limit: int = 0, threads: int = 2) -> TuningScores:
    """Det hmean, e2e hmean and WER of the int8 det and rec in ``folder`` on the first ``limit`` tuning photos (0: all)."""
    from harness.models.recipes.ort_int8 import built_files
    from harness.ocr.rapidocr import RapidOcr, RapidOcrOptions

    files = built_files(folder)
    options = RapidOcrOptions(tuning="floor", det_model=str(files["det"]), rec_model=str(files["rec"]))
    backend = RapidOcr(options, BackendContext(threads=threads, models=files))
    source = Icdar2015Source(Icdar2015Options(split=TUNING_SPLIT, limit=limit, loop=False))
    source.open()
    records = []
    try:
        for frame in source.frames():
            accuracy = frame_accuracy(frame.ground_truth, backend.recognize(frame, Tracer()), None)
            records.append({"warmup": False, "ok": True, "source": frame.source, "frame_id": frame.frame_id, "accuracy": accuracy})
    finally:
        source.close()
        backend.close()
    figures = accuracy_figures(records)  # as summary.csv computes them
    return TuningScores(len(records), figures["det_hmean"], figures["e2e_hmean"], figures["ocr_wer_bag"])


def agree(built: TuningScores, shipped: TuningScores) -> list[str]:
    """What breaks the margins (empty: the rebuild reads like the shipped set)."""
    problems = []
    if abs(built.det_hmean - shipped.det_hmean) > HMEAN_MARGIN:
        problems.append(f"det hmean {built.det_hmean:.4f} vs shipped {shipped.det_hmean:.4f} (margin {HMEAN_MARGIN})")
    if abs(built.wer - shipped.wer) > WER_MARGIN:
        problems.append(f"WER {100 * built.wer:.2f}% vs shipped {100 * shipped.wer:.2f}% (margin {100 * WER_MARGIN:.1f} points)")
    return problems


def main(argv: list[str] | None = None) -> None:
    """Score both sets on the tuning photos and say whether they agree (exit 1 when not)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("built", type=Path)
    parser.add_argument("shipped", type=Path, nargs="?", default=project_root() / "models" / "ppocrv4-int8")
    parser.add_argument("--photos", type=int, default=0, help="first N tuning photos (0: all 150)")
    parser.add_argument("--record", action="store_true", help="add the rebuild's machine and hashes to the shipped record when it agrees")
    args = parser.parse_args(argv)
    results = {name: tuning_scores(folder, args.photos) for name, folder in (("built", args.built), ("shipped", args.shipped))}
    for name, s in results.items():
        print(f"{name}: {s.photos} tuning photos, det hmean {s.det_hmean:.4f}, e2e hmean {s.e2e_hmean:.4f}, WER {100 * s.wer:.2f}%")
    problems = agree(results["built"], results["shipped"])
    print("agrees within the margins" if not problems else "DOES NOT AGREE: " + "; ".join(problems))
    if args.record and not problems:
        _record(args.built, args.shipped)
    raise SystemExit(1 if problems else 0)


def _record(built: Path, shipped: Path) -> None:
    """Add the rebuild's machine and output hashes to the shipped record."""
    import json

    from harness.models.recipes.record import add_reproduction

    record = json.loads((built / "ppocr_int8.json").read_text(encoding="utf-8"))
    files = {part: built / out["file"] for part, out in record["outputs"].items() if (shipped / out["file"]).is_file()}
    if add_reproduction(shipped / "ppocr_int8.json", record["built_on"], files):
        print(f"recorded: {record['built_on']['isa']} builds {', '.join(f'{p} {sha256_short(f)}' for p, f in files.items())}")
    else:
        print("not recorded: the shipped record already knows a machine like this one")


def sha256_short(path: Path) -> str:
    from harness.system.fingerprint import sha256_file

    return sha256_file(path)[:12]


if __name__ == "__main__":
    main()
