"""Do PP-OCR model sets compute the same on another x86 instruction set? Checked here, under an emulator.

int8 kernels differ by instruction set: without VNNI, ONNX Runtime multiplies uint8 activations by int8
weights with ``vpmaddubsw``, whose 16-bit sums of two products saturate when both are large (a weight
beyond ±64 with an activation near 255), while VNNI's ``vpdpbusd`` sums in 32 bits. So a model set can read
differently on an AVX2-only CPU than on the VNNI CPU it was tuned on. A user-mode emulator runs ONNX
Runtime with another CPUID (``qemu-x86_64 -cpu Haswell``: AVX2, no AVX-512, no VNNI; QEMU 7.2 or later
emulates AVX2), so the kernels it picks are those of an AVX2-only machine, bit for bit; only its speed is
not a CPU's (about 300x slower here).

For each model set this runs det (at the floor tuning's input size) on the first ``--photos`` tuning
photos and rec on the crops of their legible ground-truth words, once natively and once under the
emulator, and compares the outputs: det's probability map (mean |difference|, and the share of pixels
on different sides of DB's 0.3 threshold) and rec's per-step character probabilities (mean |difference|,
and the share of steps whose most likely character differs). It reads the tuning split only.

    python -m harness.models.recipes.isa_check --set fp32 --set build/int8-tune/u8s8 --set models/ppocrv4-int8
    python -m harness.models.recipes.isa_check --set models/ppocrv4-int8 --photos 8 --emulator "qemu-x86_64 -cpu Haswell" --json out.json

``fp32`` names the package's fp32 models; a folder, a set the int8 recipe built (its ``ppocr_int8.json``
names the files). The emulator must be installed (Debian: ``qemu-user``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from harness.models.manifest import model_root
from harness.models.recipes.eval_ocr_int8 import TUNING, tuning_photos, upright_word
from harness.models.recipes.ort_int8 import MODEL_FILES, built_files
from harness.ocr.ppocr_tuning import TUNINGS, OrtSession, det_size, det_tensor, rec_batches, rec_tensor
from harness.paths import data_root

__all__ = ["Agreement", "compare", "dump", "set_files"]

DEFAULT_EMULATOR = "qemu-x86_64 -cpu Haswell"
DB_THRESHOLD = 0.3  # RapidOCR's det binarization threshold


@dataclass
class Agreement:
    """How one set's outputs under the emulator differ from its native ones."""

    name: str
    isa_native: str
    isa_emulated: str
    det_pixels: int
    det_mean_abs_diff: float
    det_decisions_differ: float  # share of pixels on different sides of DB_THRESHOLD
    rec_steps: int
    rec_mean_abs_diff: float
    rec_argmax_differ: float  # share of time steps whose most likely character differs
    emulated_s: float


def set_files(spec: str) -> dict[str, Path]:
    """det, cls and rec of a set: ``fp32`` (the package's), or a folder the int8 recipe built."""
    if spec == "fp32":
        return {part: model_root("rapidocr") / name for part, name in MODEL_FILES.items()}
    return built_files(Path(spec))


def _photos(count: int) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """The first ``count`` tuning photos, each with the quads of its legible words."""
    photos = tuning_photos(count)
    if not photos:
        raise SystemExit(f"no tuning photos under {data_root() / TUNING}; set ARBENCH_DATA_ROOT to the shared data")
    return [(image, [np.array(w.quad, dtype=np.float32) for w in truth.words if not w.dont_care]) for image, truth in photos]


def dump(files: dict[str, Path], photos: int) -> dict[str, np.ndarray]:
    """Det maps and rec probabilities of the first ``photos`` tuning photos, as the floor tuning feeds the models."""
    from harness.system.cpu import capture_cpu

    tuning = TUNINGS["floor"]
    det, rec = OrtSession(files["det"], 1, tuning), OrtSession(files["rec"], 1, tuning)
    out: dict[str, np.ndarray] = {"isa": np.array(capture_cpu()["isa"])}
    for n, (image, quads) in enumerate(_photos(photos)):
        out[f"det{n}"] = det(det_tensor(image, det_size(*image.shape[:2], tuning), tuning.float32_preprocess))[0]
        crops = [crop for quad in quads if (crop := upright_word(image, quad, min_side=1)) is not None]
        for b, batch in enumerate(rec_batches(crops, tuning)):
            out[f"rec{n}_{b}"] = rec(rec_tensor([crops[i] for i in batch], tuning)[0])[0]
    return out


def compare(name: str, native: dict[str, np.ndarray], emulated: dict[str, np.ndarray], seconds: float) -> Agreement:
    """The agreement of one set's native and emulated outputs."""
    det_keys = sorted(k for k in native if k.startswith("det"))
    rec_keys = sorted(k for k in native if k.startswith("rec"))
    det_a = np.concatenate([native[k].ravel() for k in det_keys])
    det_b = np.concatenate([emulated[k].ravel() for k in det_keys])
    rec_a = np.concatenate([native[k].reshape(-1, native[k].shape[-1]) for k in rec_keys])
    rec_b = np.concatenate([emulated[k].reshape(-1, emulated[k].shape[-1]) for k in rec_keys])
    return Agreement(
        name=name,
        isa_native=str(native["isa"]),
        isa_emulated=str(emulated["isa"]),
        det_pixels=det_a.size,
        det_mean_abs_diff=float(np.abs(det_a - det_b).mean()),
        det_decisions_differ=float(((det_a > DB_THRESHOLD) != (det_b > DB_THRESHOLD)).mean()),
        rec_steps=len(rec_a),
        rec_mean_abs_diff=float(np.abs(rec_a - rec_b).mean()),
        rec_argmax_differ=float((rec_a.argmax(axis=1) != rec_b.argmax(axis=1)).mean()),
        emulated_s=seconds,
    )


def _emulated(spec: str, photos: int, emulator: str) -> tuple[dict[str, np.ndarray], float]:
    """``dump`` of one set run by ``emulator`` in a child process, and its wall time."""
    with tempfile.TemporaryDirectory(prefix="arbench-isa-") as tmp:
        target = Path(tmp) / "dump.npz"
        command = [
            *shlex.split(emulator),
            sys.executable,
            "-m",
            "harness.models.recipes.isa_check",
            "--dump",
            str(target),
            "--set",
            spec,
            "--photos",
            str(photos),
        ]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the emulated run failed ({' '.join(command[:3])} ...): {done.stderr.strip().splitlines()[-1:]}")
        with np.load(target) as loaded:
            return dict(loaded), time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Compare each set natively and under the emulator; print one line per set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, help="fp32, or a folder of det and rec int8 files")
    parser.add_argument("--photos", type=int, default=4, help="first N tuning photos (about 30 s each per set emulated)")
    parser.add_argument(
        "--emulator", default=DEFAULT_EMULATOR, help=f"the command that runs Python under another CPUID (default {DEFAULT_EMULATOR!r})"
    )
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # the child's job: write the outputs here
    parser.add_argument("--json", type=Path, help="also write the agreements here")
    args = parser.parse_args(argv)
    if args.dump:
        np.savez(args.dump, **dump(set_files(args.set[0]), args.photos))
        return
    rows = []
    for spec in args.set:
        native = dump(set_files(spec), args.photos)
        emulated, seconds = _emulated(spec, args.photos, args.emulator)
        row = compare(spec, native, emulated, seconds)
        rows.append(row)
        print(
            f"{spec}: {row.isa_native} vs {row.isa_emulated}: det mean |diff| {row.det_mean_abs_diff:.2e}, "
            f"{100 * row.det_decisions_differ:.3f}% of {row.det_pixels} pixels across {DB_THRESHOLD}; rec mean |diff| "
            f"{row.rec_mean_abs_diff:.2e}, {100 * row.rec_argmax_differ:.2f}% of {row.rec_steps} steps read another character "
            f"(emulated in {row.emulated_s:.0f} s)",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
