"""PP-OCRv4 on LiteRT (TFLite) with XNNPACK, det / cls / rec timed separately, as the rapidocr backend.

Only the inference engine differs from the rapidocr backend. RapidOCR is built on the ONNX models
that ``rapidocr-onnxruntime`` ships, for its configuration and the recognizer's character list (kept
in the rec ONNX's metadata), then its ONNX Runtime sessions are replaced by LiteRT interpreters; its
own steps do the rest (frame preprocessing, DB post-processing, crops, the classifier's batching and
rotation, CTC decoding).

The models come from ``harness.models.recipes.tflite`` (resolved and verified before the backend starts)
and have fixed input shapes (NHWC, batch 1):

- det: the frame is resized as RapidOCR resizes it (short side up to ``det_limit_side_len``, sides
  rounded to 32) when that fits the model's input, else scaled down to fit; then padded at the bottom
  and right. The score map is cut back to the resized frame before DB post-processing, so boxes map
  to the frame exactly. Every 16:9 frame of this project (960x540, 1280x720) becomes 1312x736, what
  the default model takes, so det sees what it sees on ONNX Runtime.
- cls: RapidOCR's 48x192 input; its batches run one crop at a time.
- rec: one crop at a time through RapidOCR's ``resize_norm_img`` at the model's width: crops narrower
  than 320/48 are padded (as RapidOCR pads them), wider ones squeezed (RapidOCR widens the input).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.context import BackendContext, ModelRef
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.ocr.rapidocr import PARTS, PpOcrOptions, PpOcrSteps, numeric_precision, ppocr_model_refs

__all__ = ["LiteRt", "LiteRtOptions", "det_input", "model_refs", "numeric_precision", "preflight"]

BACKEND = "litert"
PRECISIONS = ("fp32", "fp16", "int8")
INSTALL = "run `pip install 'arbench[tflite]'` (ai-edge-litert)"


@dataclass(frozen=True)
class LiteRtOptions(PpOcrOptions):
    """PP-OCR on LiteRT.

    ``precision`` "fp32", "fp16" or "int8", for det, cls and rec alike (built by ``arbench models build``);
    the ``*_model`` paths name .tflite files; ``threads`` are XNNPACK threads per interpreter;
    ``det_limit_side_len`` stays within the det model's fixed input.
    """

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"litert precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")


def model_refs(options: LiteRtOptions) -> dict[str, ModelRef]:
    """The .tflite det, cls and rec of the options' precision (cls too), or the files they name."""
    return ppocr_model_refs(options, BACKEND, "tflite", options.precision)


def interpreter_class() -> Callable[..., Any]:
    """LiteRT's ``Interpreter``: ai-edge-litert's, else tflite-runtime's (which crashes under NumPy 2)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise BackendUnavailable(f"litert backend: no LiteRT runtime; {INSTALL}") from None
    return Interpreter


def preflight(options: LiteRtOptions, context: BackendContext) -> None:
    """Check before a run that a LiteRT runtime is installed (the models are resolved and verified already)."""
    from importlib.util import find_spec

    if find_spec("ai_edge_litert") is None and find_spec("tflite_runtime") is None:
        raise BackendUnavailable(f"litert backend: no LiteRT runtime; {INSTALL}")


class _Model:
    """One interpreter with a fixed NHWC input of batch 1; quantized inputs and outputs are converted."""

    def __init__(self, interpreter: Callable[..., Any], path: Path, threads: int) -> None:
        try:
            self._it = interpreter(model_path=str(path), num_threads=threads if threads > 0 else None)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataMissing(f"litert: cannot load {path} ({first}); the file is corrupt or not a TFLite model") from None
        self._in = self._it.get_input_details()[0]
        self._out = self._it.get_output_details()[0]
        _, self.height, self.width, _ = (int(d) for d in self._in["shape"])
        self.model_ns = 0  # time inside ``invoke`` until taken (``take_model_ns``)

    def take_model_ns(self) -> int:
        """Time inside the interpreter since the last call of this method (ns)."""
        taken, self.model_ns = self.model_ns, 0
        return taken

    def run(self, sample: np.ndarray) -> np.ndarray:
        """The output for one HWC float32 sample, without the batch dimension."""
        x = sample[np.newaxis]
        scale, zero = self._in["quantization"]
        if self._in["dtype"] != np.float32:
            info = np.iinfo(self._in["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        self._it.set_tensor(self._in["index"], x.astype(self._in["dtype"]))
        start = time.perf_counter_ns()
        self._it.invoke()
        self.model_ns += time.perf_counter_ns() - start
        y = self._it.get_tensor(self._out["index"])[0]
        scale, zero = self._out["quantization"]
        return (y.astype(np.float32) - zero) * scale if self._out["dtype"] != np.float32 else y

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """RapidOCR's session interface: an NCHW batch in, [outputs] out, one sample at a time."""
        return [np.stack([self.run(sample.transpose(1, 2, 0)) for sample in batch])]


def det_input(image: np.ndarray, preprocess: Any, height: int, width: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The det model's input for a BGR image (normalized HWC, padded with 0) and the size the image takes in it.

    ``preprocess`` is RapidOCR's ``DetPreProcess``: its resize when that fits, else scaled to fit.
    """
    import cv2

    resized = preprocess.resize(image)
    if resized is None or resized.shape[0] > height or resized.shape[1] > width:
        h, w = image.shape[:2]
        scale = min(height / h, width / w)
        resized = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))))
    rh, rw = resized.shape[:2]
    tensor = np.zeros((height, width, 3), dtype=np.float32)
    tensor[:rh, :rw] = preprocess.normalize(resized)
    return tensor, (rh, rw)


class LiteRt(PpOcrSteps):
    """PP-OCRv4 det + cls + rec on LiteRT interpreters (XNNPACK on CPU)."""

    name = "litert"

    def __init__(self, options: LiteRtOptions, context: BackendContext) -> None:
        self.options = options
        self._paths = {part: context.model(part, self.name) for part in PARTS}
        interpreter = interpreter_class()
        threads = options.threads or context.threads
        self._det, self._cls, self._rec = (_Model(interpreter, self._paths[part], threads) for part in ("det", "cls", "rec"))
        self._sessions = {"det": self._det, "cls": self._cls, "rec": self._rec}
        self._engine = self._rapidocr()

    def _rapidocr(self) -> Any:
        """RapidOCR's pipeline on its packaged ONNX models, its three sessions swapped for the interpreters."""
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise BackendUnavailable(f"litert backend: {exc}; run `pip install rapidocr-onnxruntime` (its pre/post-processing)") from None
        engine = RapidOCR(det_limit_side_len=self.options.det_limit_side_len, text_score=self.options.text_score, intra_op_num_threads=1)
        engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session = self._det, self._cls, self._rec
        return engine

    def _boxes(self, img: np.ndarray) -> list[np.ndarray] | None:
        """RapidOCR's ``TextDetector`` and ``auto_text_det`` steps around the fixed-shape det model."""
        text_det = self._engine.text_det
        shape = img.shape[:2]
        tensor, (rh, rw) = det_input(img, text_det.get_preprocess(max(shape)), self._det.height, self._det.width)
        score = np.squeeze(self._det.run(tensor))[:rh, :rw]  # onnx2tf keeps ONNX's 1xHxW score map; HxWx1 works too
        boxes, _ = text_det.postprocess_op(score[np.newaxis, np.newaxis], shape)
        boxes = text_det.filter_tag_det_res(boxes, shape)
        return self._engine.sorted_boxes(boxes) if len(boxes) else None

    def _read(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Text and confidence of each crop, one at a time, fitted to the rec model's width."""
        text_rec = self._engine.text_rec
        read = []
        for crop in crops:
            tensor = text_rec.resize_norm_img(crop, self._rec.width / self._rec.height)
            preds = self._rec.run(tensor.transpose(1, 2, 0)[:, : self._rec.width])
            read.append(tuple(text_rec.postprocess_op(preds[np.newaxis])[0][:2]))
        return read

    def close(self) -> None:
        self._engine = None
        self._det = self._cls = self._rec = None  # type: ignore[assignment]
        self._sessions = {}
