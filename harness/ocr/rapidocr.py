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

from harness.context import BackendContext
from harness.errors import BackendUnavailable, DataMissing
from harness.trace import Tracer
from harness.types import Frame, TextRegion, quad_from_array

__all__ = ["RapidOcr", "RapidOcrOptions", "packaged_model_dir"]


@dataclass(frozen=True)
class RapidOcrOptions:
    """Options of the PP-OCR pipeline.

    ``threads`` 0 means the device profile's thread count. ``use_det`` off treats the whole frame as one
    word crop (recognition-only sets such as IC15 word crops and IIIT5K).
    """

    det_model: str | None = None
    cls_model: str | None = None
    rec_model: str | None = None
    use_det: bool = True
    use_cls: bool = True
    threads: int = 0
    det_limit_side_len: int = 736
    text_score: float = 0.5


def packaged_model_dir() -> Path:
    """Where ``rapidocr-onnxruntime`` keeps its PP-OCR ONNX models (without importing ONNX Runtime)."""
    from importlib.util import find_spec

    spec = find_spec("rapidocr_onnxruntime")
    if spec is None or spec.origin is None:
        raise BackendUnavailable("rapidocr backend: package missing; run `pip install rapidocr-onnxruntime`")
    return Path(spec.origin).parent / "models"


class RapidOcr:
    """PP-OCRv4 det + cls + rec on ONNX Runtime's CPU provider."""

    name = "rapidocr"

    def __init__(self, options: RapidOcrOptions, context: BackendContext) -> None:
        self.options = options
        self._paths = self._resolve_paths(options)
        self._engine = self._load(options, context)

    def _resolve_paths(self, options: RapidOcrOptions) -> dict[str, Path]:
        base = packaged_model_dir()
        paths = {
            "det": Path(options.det_model) if options.det_model else base / "ch_PP-OCRv4_det_infer.onnx",
            "cls": Path(options.cls_model) if options.cls_model else base / "ch_ppocr_mobile_v2.0_cls_infer.onnx",
            "rec": Path(options.rec_model) if options.rec_model else base / "ch_PP-OCRv4_rec_infer.onnx",
        }
        for part, path in paths.items():
            if not path.is_file():
                raise DataMissing(f"rapidocr {part} model not found: {path}; build it with `arbench models` or fix the path")
        return paths

    def _load(self, options: RapidOcrOptions, context: BackendContext) -> Any:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise BackendUnavailable(f"rapidocr backend: {exc}; run `pip install rapidocr-onnxruntime`") from None
        threads = options.threads or context.threads
        return RapidOCR(
            det_model_path=str(self._paths["det"]),
            cls_model_path=str(self._paths["cls"]),
            rec_model_path=str(self._paths["rec"]),
            det_limit_side_len=options.det_limit_side_len,
            text_score=options.text_score,
            intra_op_num_threads=threads if threads > 0 else -1,
            inter_op_num_threads=1,
        )

    def model_files(self) -> tuple[Path, ...]:
        used = {"det": self.options.use_det, "cls": self.options.use_cls, "rec": True}
        return tuple(path for part, path in self._paths.items() if used[part])

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        if frame.image is None:
            raise ValueError("rapidocr needs an image; this frame carries only text")
        if self.options.use_det:
            detected = self._detect(frame.image, tracer)
            if detected is None:
                return []
            crops, quads = detected
        else:
            height, width = frame.image.shape[:2]
            crops, quads = [frame.image], np.array([[[0, 0], [width, 0], [width, height], [0, height]]], dtype=np.float32)
        if self.options.use_cls:
            with tracer.span("ocr.cls"):
                crops, _, _ = self._engine.text_cls(crops)
        with tracer.span("ocr.rec"):
            recognized, _ = self._engine.text_rec(crops, False)
        return self._regions(quads, recognized)

    def _detect(self, image: np.ndarray, tracer: Tracer) -> tuple[list[np.ndarray], np.ndarray] | None:
        """Detected text boxes: the crops to recognize and their quads in frame coordinates."""
        engine = self._engine
        raw_h, raw_w = image.shape[:2]
        with tracer.span("ocr.det") as det:
            img, ratio_h, ratio_w = engine.preprocess(image)
            record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
            img, record = engine.maybe_add_letterbox(img, record)
            boxes, _ = engine.auto_text_det(img)
            det["boxes"] = 0 if boxes is None else len(boxes)
        if boxes is None:
            return None
        return engine.get_crop_img_list(img, boxes), engine._get_origin_points(boxes, record, raw_h, raw_w)

    def _regions(self, quads: np.ndarray, recognized: list[Any]) -> list[TextRegion]:
        # Word-crop recognition (use_det off) keeps every answer, as recognition benchmarks score them.
        threshold = self.options.text_score if self.options.use_det else float("-inf")
        return [
            TextRegion(quad_from_array(quad), str(res[0]), float(res[1]))
            for quad, res in zip(quads, recognized, strict=True)
            if float(res[1]) >= threshold and str(res[0]).strip()
        ]

    def close(self) -> None:
        self._engine = None
