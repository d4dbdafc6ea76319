"""PP-OCRv4 through ``rapidocr-onnxruntime`` (ONNX Runtime), with det / cls / rec timed separately.

RapidOCR's own ``__call__`` reports elapsed seconds per part but not their edges on our clock, so this
backend drives the same steps itself (preprocess, detect, crop, classify, recognize, map boxes back,
filter by score) inside "ocr.det", "ocr.cls" and "ocr.rec" spans. The model files default to those the
package ships; experiments may point at other files (an int8 model built by a recipe, say).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from harness.context import BackendContext, ModelRef
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.ocr.ppocr_tuning import DET_RESIZE, TUNINGS, OrtSession, Tuning, det_size, det_tensor, rec_batches, rec_tensor
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
    ``tuning``: "shipped" runs the models as ``rapidocr-onnxruntime`` sets them up, "floor" at the
    settings chosen for speed at equal accuracy (``harness.ocr.ppocr_tuning``). Each of ``det_resize``,
    ``det_limit_side_len``, ``mem_arena``, ``float32_preprocess``, ``spinning``, ``rec_min_width``,
    ``rec_batch`` and ``rec_bucket`` left unset takes the tuning's value; the manifest records them all.
    """

    cls_precision: str = "fp32"
    tuning: str = "shipped"
    det_resize: str | None = None
    det_limit_side_len: int | None = None  # type: ignore[assignment]  # unset: the tuning's
    mem_arena: bool | None = None
    float32_preprocess: bool | None = None
    spinning: bool | None = None
    rec_min_width: int | None = None
    rec_batch: int | None = None
    rec_bucket: float | None = None

    def __post_init__(self) -> None:
        if self.tuning not in TUNINGS:
            raise ConfigError(f"rapidocr tuning must be one of {', '.join(TUNINGS)}, not {self.tuning!r}")
        chosen = TUNINGS[self.tuning]
        for name in (f.name for f in fields(Tuning)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, getattr(chosen, name))
        if self.det_resize not in DET_RESIZE:
            raise ConfigError(f"rapidocr det_resize must be one of {', '.join(DET_RESIZE)}, not {self.det_resize!r}")
        if self.det_limit_side_len < 32 or self.rec_batch < 1 or self.rec_min_width < 0 or self.rec_bucket < 0:
            raise ConfigError("rapidocr: det_limit_side_len must be >= 32, rec_batch >= 1, rec_min_width and rec_bucket >= 0")

    def settings(self) -> Tuning:
        """The settings the backend runs with (the tuning's, with the options that override them)."""
        return Tuning(**{f.name: getattr(self, f.name) for f in fields(Tuning)})


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
    (recognition of the crops). Where ``_sessions`` has a part's runtime wrapper, that part's span
    records ``model_ns``: the time spent inside the model's runtime, the floor under the stage. A frame
    flagged ``word_crop`` (or every frame, with ``use_det`` off) is recognized whole and keeps every
    answer, as recognition benchmarks score them.
    """

    options: PpOcrOptions
    _paths: dict[str, Path]
    _engine: Any
    _sessions: dict[str, Any]  # part -> a runtime wrapper with ``take_model_ns()`` (where model time is measured)

    def model_files(self) -> tuple[Path, ...]:
        used = {"det": self.options.use_det, "cls": self.options.use_cls, "rec": True}
        return tuple(path for part, path in self._paths.items() if used[part])

    def accelerators(self) -> dict[str, str]:
        """Each part in use and what it runs on: its ONNX Runtime session's first provider, else the CPU."""
        used = {"det": self.options.use_det, "cls": self.options.use_cls, "rec": True}
        sessions = getattr(self, "_sessions", {})
        return {part: (getattr(sessions.get(part), "providers", None) or ["cpu"])[0] for part in self._paths if used[part]}

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
            with tracer.span("ocr.cls") as cls:
                crops, _, _ = self._engine.text_cls(crops)
                self._note_model_time(tracer, cls, "cls")
        with tracer.span("ocr.rec") as rec:
            recognized = self._read(crops)
            self._note_model_time(tracer, rec, "rec")
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
            self._note_model_time(tracer, det, "det")
        if boxes is None:
            return None
        return engine.get_crop_img_list(img, boxes), engine._get_origin_points(boxes, record, raw_h, raw_w)

    def _note_model_time(self, tracer: Tracer, attrs: dict[str, Any], part: str) -> None:
        """Put the time ``part``'s model took inside its runtime since last noted on the span (``model_ns``).

        Where the runtime copies to and from a device apart from running the model (``take_copies``), each
        copy becomes a sub-span "ocr.<part>.h2d" / "ocr.<part>.d2h" on the tracer.
        """
        session = getattr(self, "_sessions", {}).get(part)
        if session is not None:
            attrs["model_ns"] = session.take_model_ns()
            for name, start_ns, end_ns in getattr(session, "take_copies", list)():
                tracer.add(f"ocr.{part}.{name}", start_ns, end_ns)

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
    """PP-OCRv4 det + cls + rec on ONNX Runtime (the device profile's providers, the CPU's last), at the options' tuning.

    RapidOCR supplies the pre- and post-processing (DB boxes, crops, the classifier's batching, CTC
    decoding); the three ONNX Runtime sessions are this backend's own (``OrtSession``), set up as the
    tuning says, and det's input and rec's batches are made here (``harness.ocr.ppocr_tuning``). At
    ``tuning = "shipped"`` every step computes what ``RapidOCR()(image)`` computes.
    """

    name = "rapidocr"
    options: RapidOcrOptions

    def __init__(self, options: RapidOcrOptions, context: BackendContext) -> None:
        self.options = options
        self.tuning = options.settings()
        self._paths = {part: context.model(part, self.name) for part in PARTS}
        self._engine = self._load(options, context)

    def _load(self, options: RapidOcrOptions, context: BackendContext) -> Any:
        """RapidOCR's pipeline with this backend's sessions (``_open_sessions``) in place of its own."""
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise BackendUnavailable(f"{self.name} backend: {exc}; run `pip install rapidocr-onnxruntime`") from None
        try:
            engine = RapidOCR(  # its own sessions (on the packaged models) are dropped before ours load: not both in memory
                det_limit_side_len=self.tuning.det_limit_side_len, text_score=options.text_score, intra_op_num_threads=1
            )
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's load errors share no base class but Exception
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataMissing(f"{self.name}: cannot load RapidOCR's packaged models ({first}); reinstall rapidocr-onnxruntime") from None
        engine.text_cls.infer = engine.text_det.infer = engine.text_rec.session = None
        self._sessions = self._open_sessions(options, context)
        engine.text_cls.infer = self._sessions["cls"]
        engine.text_det.infer = self._sessions["det"]
        engine.text_rec.session = self._sessions["rec"]
        if self._sessions["rec"].have_key():  # the characters of the rec model in use, not the packaged one
            engine.text_rec.postprocess_op = type(engine.text_rec.postprocess_op)(character=self._sessions["rec"].get_character_list())
        return engine

    def _open_sessions(self, options: RapidOcrOptions, context: BackendContext) -> dict[str, Any]:
        """det, cls and rec on ONNX Runtime, set up as the tuning says."""
        threads = options.threads or context.threads
        try:
            return {part: OrtSession(self._paths[part], threads, self.tuning, context.providers) for part in PARTS}
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's load errors share no base class but Exception
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataMissing(f"rapidocr: cannot load the models ({first}); a model file is corrupt or not ONNX") from None

    def _boxes(self, img: np.ndarray) -> Any:
        """RapidOCR's ``TextDetector`` steps on this backend's det input, then its box order."""
        text_det = self._engine.text_det
        shape = img.shape[:2]
        tensor = det_tensor(img, det_size(*shape, self.tuning), self.tuning.float32_preprocess)
        preds = self._sessions["det"](tensor)[0]
        boxes, _ = text_det.postprocess_op(preds, shape)
        boxes = text_det.filter_tag_det_res(boxes, shape)
        return self._engine.sorted_boxes(boxes) if len(boxes) else None

    def _read(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each crop, read in the tuning's batches."""
        decode = self._engine.text_rec.postprocess_op
        read: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for batch in rec_batches(crops, self.tuning):
            tensor, _ = rec_tensor([crops[i] for i in batch], self.tuning)
            for i, result in zip(batch, decode(self._sessions["rec"](tensor)[0]), strict=True):
                read[i] = (result[0], result[1])
        return read

    def close(self) -> None:
        self._engine = None
        self._sessions = {}
