"""How PP-OCR runs on ONNX Runtime: the library's settings as shipped, or the settings at the models' floor.

``rapidocr-onnxruntime`` sets its models up in ways that cost time without changing what they compute
(measured in docs/ocr.md, "PP-OCR at its floor"):

- det input: ``limit_type: min`` enlarges a frame until its short side reaches 736 px (a 960x540 frame
  becomes 1312x736, 1.86x the pixels); ``det_resize = "max"`` never enlarges: the long side is at most
  ``det_limit_side_len`` and both sides are rounded (half up) to a multiple of 32, as the network needs;
- ONNX Runtime's CPU memory arena is off, so every call maps and faults its buffers afresh (``mem_arena``);
- det preprocessing runs in float64 (its mean and std are float64 arrays); ``float32_preprocess`` does the
  same arithmetic in float32 (the det input came out identical on 4 synthetic scenes and 4 tuning photos);
- every session's threads spin after a call, taking the cores from the next session (``spinning``);
- rec pads every batch to at least 320 px wide (``rec_min_width``); narrower batches, grouped by width
  so that a batch pads its crops to at most ``rec_bucket`` times their own width, do less work
  (``rec_batch`` crops at most; RapidOCR batches 6 by width order with no bound, ``rec_bucket = 0``).

``TUNINGS`` holds both sets; an option left unset takes its value from the chosen tuning, so one
option set to its shipped value inside the floor tuning is one ablation row.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["DET_RESIZE", "TUNINGS", "OrtSession", "Tuning", "det_size", "det_tensor", "rec_batches", "rec_tensor"]

DET_RESIZE = ("min", "max")
REC_HEIGHT = 48


@dataclass(frozen=True)
class Tuning:
    """One complete set of the settings above (see the module docstring)."""

    det_resize: str
    det_limit_side_len: int
    mem_arena: bool
    float32_preprocess: bool
    spinning: bool
    rec_min_width: int
    rec_batch: int
    rec_bucket: float


TUNINGS = {
    "shipped": Tuning(
        det_resize="min", det_limit_side_len=736, mem_arena=False, float32_preprocess=False, spinning=True,
        rec_min_width=320, rec_batch=6, rec_bucket=0.0,
    ),
    # chosen on icdar2015_incidental_tune150 and synthetic seeds 100-103 (docs/ocr.md, "PP-OCR at its floor")
    "floor": Tuning(
        det_resize="max", det_limit_side_len=1280, mem_arena=True, float32_preprocess=True, spinning=False,
        rec_min_width=0, rec_batch=6, rec_bucket=2.0,
    ),
}  # fmt: skip


class OrtSession:
    """One ONNX Runtime session called as RapidOCR calls its own (an input array in, the outputs out).

    ``providers``: the device profile's preference order; the session gets those this ONNX Runtime has,
    then the CPU's, and ``providers`` afterwards is what it really assigned (a provider that fails to
    start is dropped there, silently by ONNX Runtime, visibly here).

    ``model_ns`` adds up the time spent inside ``InferenceSession.run`` until the caller takes it
    (``take_model_ns``), so spans can say how much of a stage the model itself took.
    """

    def __init__(self, path: Path, threads: int, tuning: Tuning, providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        import onnxruntime as ort

        from harness.accelerators import choose_providers

        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.enable_cpu_mem_arena = tuning.mem_arena
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads > 0:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        if not tuning.spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        chosen = choose_providers(providers, ort.get_available_providers())  # the profile's order, the CPU's last
        cpu = ("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=[*chosen[:-1], cpu])
        self.providers: list[str] = self.session.get_providers()  # what ONNX Runtime really assigned, in its order
        self._input = self.session.get_inputs()[0].name
        self.model_ns = 0

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        start = time.perf_counter_ns()
        try:
            return self.session.run(None, {self._input: batch})
        finally:
            self.model_ns += time.perf_counter_ns() - start

    def take_model_ns(self) -> int:
        """Time inside the model since the last call of this method (ns)."""
        taken, self.model_ns = self.model_ns, 0
        return taken

    # RapidOCR's recognizer asks its session for the character list kept in the model's metadata
    def have_key(self, key: str = "character") -> bool:
        return key in self.session.get_modelmeta().custom_metadata_map

    def get_character_list(self, key: str = "character") -> list[str]:
        return self.session.get_modelmeta().custom_metadata_map[key].splitlines()


def det_size(height: int, width: int, tuning: Tuning) -> tuple[int, int]:
    """The det input's (height, width) for a frame: sides rounded to a multiple of 32.

    "min" (RapidOCR's ``limit_type: min``): the short side enlarged to ``det_limit_side_len`` when shorter;
    "max": the long side reduced to ``det_limit_side_len`` when longer, never enlarged.
    """
    short, long = min(height, width), max(height, width)
    limit = tuning.det_limit_side_len
    if tuning.det_resize == "min":  # RapidOCR's arithmetic, its round-half-to-even included (720 → 704 at ratio 1)
        ratio = limit / short if short < limit else 1.0
        return max(32, round(int(height * ratio) / 32) * 32), max(32, round(int(width * ratio) / 32) * 32)
    ratio = limit / long if long > limit else 1.0
    return max(32, int(int(height * ratio) / 32 + 0.5) * 32), max(32, int(int(width * ratio) / 32 + 0.5) * 32)


def det_tensor(image: np.ndarray, size: tuple[int, int], float32: bool) -> np.ndarray:
    """The det model's 1x3xHxW input: the frame resized to ``size`` and normalized to [-1, 1].

    Without ``float32`` the arithmetic is RapidOCR's own, in float64, cast to float32 at the end.
    """
    resized = cv2.resize(image, (size[1], size[0]))
    if float32:
        scaled = resized.astype(np.float32)
        scaled *= np.float32(2.0 / 255.0)
        scaled -= np.float32(1.0)
    else:
        scaled = (resized.astype("float32") * (1 / 255.0) - np.array([0.5, 0.5, 0.5])) / np.array([0.5, 0.5, 0.5])
    return np.ascontiguousarray(scaled.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)


def rec_batches(crops: list[np.ndarray], tuning: Tuning) -> list[list[int]]:
    """Crop indices in batches for rec, narrowest first.

    A batch holds at most ``rec_batch`` crops, and its widest crop is at most ``rec_bucket`` times as wide
    (at rec height) as its narrowest (0: no bound, RapidOCR's batching).
    """
    ratios = [c.shape[1] / max(1, c.shape[0]) for c in crops]
    batches: list[list[int]] = []
    for index in np.argsort(np.array(ratios)).tolist():  # RapidOCR's order, ties included
        batch = batches[-1] if batches else None
        wider = tuning.rec_bucket > 0 and batch is not None and ratios[index] > tuning.rec_bucket * max(ratios[batch[0]], 1e-6)
        if batch is None or len(batch) >= tuning.rec_batch or wider:
            batches.append([index])
        else:
            batch.append(index)
    return batches


def rec_tensor(crops: list[np.ndarray], tuning: Tuning) -> tuple[np.ndarray, float]:
    """One rec batch (Nx3x48xW, normalized to [-1, 1], right-padded with 0) and its width/height ratio.

    Each crop is resized to height 48 keeping its aspect ratio, as RapidOCR does; the batch is as wide as
    its widest crop, and at least ``rec_min_width`` (RapidOCR's 320).
    """
    ratio = max([tuning.rec_min_width / REC_HEIGHT, *(c.shape[1] / max(1, c.shape[0]) for c in crops)])
    width = max(1, int(REC_HEIGHT * ratio))
    batch = np.zeros((len(crops), 3, REC_HEIGHT, width), dtype=np.float32)
    for i, crop in enumerate(crops):
        resized_w = min(width, math.ceil(REC_HEIGHT * crop.shape[1] / max(1, crop.shape[0])))
        resized = cv2.resize(crop, (resized_w, REC_HEIGHT)).astype(np.float32).transpose(2, 0, 1) / 255
        resized -= 0.5  # RapidOCR's own float32 arithmetic, step for step
        resized /= 0.5
        batch[i, :, :, :resized_w] = resized
    return batch, ratio
