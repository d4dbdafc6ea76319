"""PP-OCRv4 through ``rapidocr-onnxruntime`` (ONNX Runtime), with det / cls / rec timed separately.

RapidOCR's own ``__call__`` reports elapsed seconds per part but not their edges on our clock, so this
backend drives the same steps itself (preprocess, detect, crop, classify, recognize, map boxes back,
filter by score) inside "ocr.det", "ocr.cls" and "ocr.rec" spans. The model files default to those the
package ships; experiments may point at other files (an int8 model built by a recipe, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.context import BackendContext, ModelRef
from harness.errors import BackendUnavailable, DataMissing
from harness.trace import Tracer
from harness.types import Frame, Quad, TextRegion, quad_from_array

__all__ = ["PARTS", "PpOcrOptions", "PpOcrSteps", "RapidOcr", "RapidOcrOptions", "model_refs", "numeric_precision", "ppocr_model_refs"]

FAMILY = "ppocrv4"
PARTS = ("det", "cls", "rec")


@dataclass(frozen=True)
class PpOcrOptions:
    """What every PP-OCR backend (``PpOcrSteps``) takes, whatever runs the models.

    ``precision`` picks the models; ``det_model`` / ``cls_model`` / ``rec_model`` point at other files
    instead. ``threads`` 0 means the device profile's thread count. ``use_det`` off treats every frame as
    one word crop; frames that say they are word crops (IC15 word crops, IIIT5K) are treated so anyway.
    ``det_limit_side_len``: RapidOCR's det resize target (short side, px). ``text_score``: regions below it
    are dropped.
    """

    precision: str = "fp32"
    det_model: str | None = None
    cls_model: str | None = None
    rec_model: str | None = None
    use_det: bool = True
    use_cls: bool = True
    threads: int = 0
    det_limit_side_len: int = 736
    text_score: float = 0.5


@dataclass(frozen=True)
class RapidOcrOptions(PpOcrOptions):
    """PP-OCR on ONNX Runtime.

    ``precision`` picks the det and rec models from models/manifest.toml (fp32 ships in the package, int8
    is built by ``arbench models build``); the direction classifier is tiny and stays at ``cls_precision``.
    """

    cls_precision: str = "fp32"


def ppocr_model_refs(options: PpOcrOptions, backend: str, form: str, cls_precision: str) -> dict[str, ModelRef]:
    """det, cls and rec of PP-OCRv4 at the options' precisions on ``backend``, or the files the options name (``form``)."""
    refs = {}
    for part, explicit, precision in (
        ("det", options.det_model, options.precision),
        ("cls", options.cls_model, cls_precision),
        ("rec", options.rec_model, options.precision),
    ):
        if explicit:  # a file the user names: relative to the working directory, checked to be ``form``
            refs[part] = ModelRef(name=str(Path(explicit).absolute()), backend=backend, form=form)
        else:
            refs[part] = ModelRef(FAMILY, f"ocr.{part}", precision, backend)
    return refs


def model_refs(options: RapidOcrOptions) -> dict[str, ModelRef]:
    """The ONNX det, cls and rec models of the options (``harness.models.resolve`` verifies them)."""
    return ppocr_model_refs(options, "rapidocr", "onnx", options.cls_precision)


def numeric_precision(options: PpOcrOptions) -> str | None:
    """The precision the options pick, None when they name model files (then the files say, not the options)."""
    return None if options.det_model or options.rec_model else options.precision


class PpOcrSteps:
    """RapidOCR's PP-OCR steps (preprocess, detect, crop, classify, recognize, map boxes back, filter) in spans.

    Subclasses set ``options``, ``_paths`` (det/cls/rec files) and ``_engine`` (a ``RapidOCR``) and may
    replace the two inference steps: ``_boxes`` (detection on the preprocessed image) and ``_read``
    (recognition of the crops). A frame flagged ``word_crop`` (or every frame, with ``use_det`` off) is
    recognized whole and keeps every answer, as recognition benchmarks score them.
    """

    options: PpOcrOptions
    _paths: dict[str, Path]
    _engine: Any

    def model_files(self) -> tuple[Path, ...]:
        used = {"det": self.options.use_det, "cls": self.options.use_cls, "rec": True}
        return tuple(path for part, path in self._paths.items() if used[part])

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        if frame.image is None:
            raise ValueError(f"{self.name} needs an image; this frame carries only text")
        whole = frame.word_crop or not self.options.use_det
        if whole:
            height, width = (float(side) for side in frame.image.shape[:2])
            crops, quads = [frame.image], [((0.0, 0.0), (width, 0.0), (width, height), (0.0, height))]
        else:
            crops, quads = self.detect(frame, tracer)
        threshold = float("-inf") if whole else self.options.text_score
        return [TextRegion(quads[i], text, score) for i, text, score in self._read_crops(crops, tracer, threshold)]

    def detect(self, frame: Frame, tracer: Tracer) -> tuple[list[np.ndarray], list[Quad]]:
        """Crops of the detected text and their quads in frame pixels (span "ocr.det"); the device's half of det-local."""
        if frame.image is None:
            raise ValueError(f"{self.name} needs an image; this frame carries only text")
        detected = self._detect(frame.image, tracer)
        if detected is None:
            return [], []
        crops, quads = detected
        return list(crops), [quad_from_array(q) for q in quads]

    def read(self, crops: list[np.ndarray], tracer: Tracer) -> list[tuple[int, str, float]]:
        """The server's half of det-local (``harness.offload.split``): the crops that pass ``text_score``, read."""
        return self._read_crops(crops, tracer, self.options.text_score)

    def _read_crops(self, crops: list[np.ndarray], tracer: Tracer, threshold: float) -> list[tuple[int, str, float]]:
        """(index, text, confidence) of the crops read with at least ``threshold`` and some text (spans "ocr.cls", "ocr.rec")."""
        if not crops:
            return []
        if self.options.use_cls:
            with tracer.span("ocr.cls"):
                crops, _, _ = self._engine.text_cls(crops)
        with tracer.span("ocr.rec"):
            recognized = self._read(crops)
        read = [(i, str(text), float(score)) for i, (text, score) in enumerate(recognized)]
        return [(i, text, score) for i, text, score in read if score >= threshold and text.strip()]

    def _detect(self, image: np.ndarray, tracer: Tracer) -> tuple[list[np.ndarray], np.ndarray] | None:
        """Detected text boxes: the crops to recognize and their quads in frame coordinates."""
        engine = self._engine
        raw_h, raw_w = image.shape[:2]
        with tracer.span("ocr.det") as det:
            img, ratio_h, ratio_w = engine.preprocess(image)
            record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
            img, record = engine.maybe_add_letterbox(img, record)
            boxes = self._boxes(img)
            det["boxes"] = 0 if boxes is None else len(boxes)
        if boxes is None:
            return None
        return engine.get_crop_img_list(img, boxes), engine._get_origin_points(boxes, record, raw_h, raw_w)

    def _boxes(self, img: np.ndarray) -> Any:
        """Text boxes of the preprocessed image, or None."""
        return self._engine.auto_text_det(img)[0]

    def _read(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each crop."""
        recognized, _ = self._engine.text_rec(crops, False)
        return [(res[0], res[1]) for res in recognized]

    def close(self) -> None:
        self._engine = None


class RapidOcr(PpOcrSteps):
    """PP-OCRv4 det + cls + rec on ONNX Runtime's CPU provider."""

    name = "rapidocr"

    def __init__(self, options: RapidOcrOptions, context: BackendContext) -> None:
        self.options = options
        self._paths = {part: context.model(part, self.name) for part in PARTS}
        self._engine = self._load(options, context)

    def _load(self, options: RapidOcrOptions, context: BackendContext) -> Any:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise BackendUnavailable(f"rapidocr backend: {exc}; run `pip install rapidocr-onnxruntime`") from None
        threads = options.threads or context.threads
        try:
            return RapidOCR(
                det_model_path=str(self._paths["det"]),
                cls_model_path=str(self._paths["cls"]),
                rec_model_path=str(self._paths["rec"]),
                det_limit_side_len=options.det_limit_side_len,
                text_score=options.text_score,
                intra_op_num_threads=threads if threads > 0 else -1,
                inter_op_num_threads=1,
            )
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's load errors share no base class but Exception
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataMissing(f"rapidocr: cannot load the models ({first}); a model file is corrupt or not ONNX") from None
