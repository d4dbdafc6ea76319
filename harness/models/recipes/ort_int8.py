"""Int8 PP-OCRv4 for ONNX Runtime, quantized with ``onnxruntime.quantization`` from synthetic scenes.

The det, cls and rec ONNX models that ``rapidocr-onnxruntime`` ships are each quantized statically
(calibrated on synthetic scenes), dynamically (weights only), kept in float or copied, as
``Int8Settings`` says. Calibration inputs are made as the rapidocr backend feeds the models at the
floor tuning (``input_tuning``; det never enlarged, rec crops batched by width), through RapidOCR's own
crops and classifier. Calibration frames are synthetic scenes (``harness.sources.synthetic``), never an
evaluation set.

Each model is prepared before quantizing: opset 14, ``quant_pre_process`` (the Paddle exports keep
weights in ``Constant`` nodes, which the quantizer would treat as activations), the exact rewrites of
``ppocr_graph.simplify`` and cross-layer equalization (``ppocr_graph.equalize``).

What the defaults rest on. Older findings (first four points) came from a tool that then read the IC15
test photos; every default was re-chosen on the tuning split only (``experiments/int8-tune.toml``: IC15
photos 201-350 and synthetic seeds 100/101, at the floor tuning, ORT 1.32, 2-core EPYC with AVX512-VNNI):

- Naive static QDQ (Conv and MatMul, MinMax, per-channel U8S8) costs rec many points of word accuracy
  and is only ~1.2x faster per photo: between the int8 convolutions, PP-LCNetV3's affine blocks and
  four-operator hard-swish ran in float. The rewrites fold most of them; ``hardswish_int8`` runs the rest
  in int8 (det only).
- Rec's loss is in the backbone's convolutions, not the SVTR MatMuls: equalization of the stem,
  Percentile 99.99 calibration and keeping its first 21 convolutions in float bring it close to fp32.
- Calibrating at the floor's input sizes matters: the set calibrated at the shipped sizes, run at the
  floor, lost 0.037 det hmean on the tuning photos (0.400 vs fp32 0.437); calibrated at the floor, det
  hmean is at or above fp32's.
- ``reduce_range`` (7-bit weights): without VNNI (AVX2, AVX-512 without VNNI) ONNX Runtime sums pairs
  of uint8 x int8 products in 16 bits, which saturate with full-range weights; 7-bit weights cannot.
  Under an emulated AVX2 CPU (``harness.models.recipes.isa_check``, 4 tuning photos) the U8S8 set's det
  map put 0.079% of pixels on the other side of DB's threshold and its rec read 0.38% of steps as another
  character; with 7-bit weights det is identical and rec reads every step alike. On the VNNI machine,
  7-bit rec weights against full-range ones: e2e hmean -0.013 (paired 95% CI -0.029 … +0.003), order-free
  word error +0.6 points (-1.9 … +3.1), within the noise, so both models take 7-bit weights.
- S8S8 (int8 activations) is about 2x slower than U8S8 on this x86 CPU at equal accuracy.
- Keeping det's head (two transposed convolutions that draw the probability map) in float: order-free
  word error 72.8% -> 71.4% and e2e hmean 0.246 -> 0.254 on the tuning photos (fp32: 69.2%, 0.260).
- Where it lands (run 20261205T003750Z-dcd9): det hmean +0.009 (-0.018 … +0.035), e2e hmean -0.019
  (-0.044 … +0.007), order-free word error +2.8 points (-1.3 … +6.9) against fp32 at the floor tuning,
  none beyond its CI; docs/ocr.md has the test-split figures.

The outputs are written to ``out_dir`` with ``ppocr_int8.json`` beside them: the settings, the
sha256 of the source and built files, library versions and the machine (``built_on``: instruction set,
the versions of every library that shapes calibration, the fonts of the calibration scenes), and
``reproductions``: the hashes builds gave on each recorded machine. The same settings and sources on the
same ``built_on`` give the same bytes; elsewhere calibration ranges move by float rounding, so a rebuild
there must score like the shipped set instead (``harness.models.recipes.agreement``: within 0.01 det
hmean and 0.5 points of word error on the tuning photos), and can then be recorded (docs/ocr.md).
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.errors import ConfigError, DataMissing
from harness.models.recipes.record import build_environment, inputs_record, write_record

__all__ = [
    "MODEL_FILES",
    "Int8Settings",
    "PartSettings",
    "build_default",
    "build_environment_here",
    "build_ppocr_int8",
    "built_files",
    "calibration_feeds",
    "inputs_key",
    "model_feeds",
]

RECIPE_VERSION = 2  # 2: calibration inputs at the floor tuning's sizes (input_tuning)
MODEL_FILES = MappingProxyType(
    {"det": "ch_PP-OCRv4_det_infer.onnx", "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx", "rec": "ch_PP-OCRv4_rec_infer.onnx"}
)
MODES = ("static", "dynamic", "float", "copy")
OUTPUT_SUFFIX = MappingProxyType({"static": "_int8.onnx", "dynamic": "_int8.onnx", "float": "_float.onnx", "copy": ".onnx"})
CALIBRATION_METHODS = ("MinMax", "Entropy", "Percentile", "Distribution")
QUANT_FORMATS = ("QDQ", "QOperator")
QUANT_TYPES = ("uint8", "int8")
MIN_OPSET = 14  # per-channel DequantizeLinear needs 13, HardSwish 14
Feed = dict[str, np.ndarray]


@dataclass(frozen=True)
class PartSettings:
    """How one model (det, cls or rec) is built.

    ``mode``: "static" (calibrated activations), "dynamic" (activation ranges at run time; ORT runs
    dynamic Conv slowly, so it suits MatMul-heavy models), "float" (the prepared float graph: opset
    upgrade, ``quant_pre_process``, the exact rewrites) or "copy" (the source unchanged).
    ``op_types``: operator types to quantize (Clip and Relu after a convolution fold into its output
    range). ``keep_float``: nodes left in float, each a rule ("first": quantizable nodes reading the
    model input, "first_convs:N": the first N convolutions in graph order, "last": the last
    quantizable node, "act_matmul": MatMuls of two activations, as in attention) or an fnmatch
    pattern on node names of the prepared graph. ``calibrate_method``: ONNX
    Runtime's ``CalibrationMethod`` name; ``percentile`` is used by "Percentile" only.
    ``hardswish_int8``: spell hard-swish with Mul, Add and Clip (``ppocr_graph.hardswish_as_mul``) so
    that it runs in int8 when those types are quantized. ``reduce_range``: 7-bit weights for this model
    (None: ``Int8Settings.reduce_range``).
    """

    mode: str = "static"
    op_types: tuple[str, ...] = ("Conv", "Clip", "MatMul")
    keep_float: tuple[str, ...] = ()
    calibrate_method: str = "MinMax"
    percentile: float = 99.999
    hardswish_int8: bool = False
    reduce_range: bool | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"int8 part mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.calibrate_method not in CALIBRATION_METHODS:
            raise ConfigError(f"int8 calibrate_method must be one of {', '.join(CALIBRATION_METHODS)}, not {self.calibrate_method!r}")


# Chosen on the tuning split (module docstring, experiments/int8-tune.toml): det int8, hard-swish
# included, but its head's two transposed convolutions (the probability map) in float; rec int8 from its
# 22nd convolution on (the backbone's last blocks, the SVTR neck, the CTC head), Percentile calibration;
# both with 7-bit weights (``Int8Settings.reduce_range``).
DET_OPS = ("Conv", "Clip", "Relu", "ConvTranspose", "Resize", "Concat", "GlobalAveragePool", "Mul", "Add")
DEFAULT_DET = PartSettings(op_types=DET_OPS, hardswish_int8=True, keep_float=("p2o.ConvTranspose.*",))
DEFAULT_REC = PartSettings(
    op_types=("Conv", "Clip", "MatMul"), keep_float=("first_convs:21",), calibrate_method="Percentile", percentile=99.99
)


@dataclass(frozen=True)
class Int8Settings:
    """One int8 build of PP-OCR: per-model settings plus those shared by all quantized models.

    ``activation_type`` / ``weight_type``: "uint8" or "int8" (x86 and ARM int8 kernels prefer uint8
    activations with int8 weights, "U8S8"). ``calibration_frames`` synthetic scenes of the
    ``difficulties`` (cycled) from ``seed``; ``rec_crops`` says where rec and cls calibration crops come
    from: "detected" (fp32 detection, as the pipeline feeds rec) and/or "truth" (ground-truth words).
    ``input_tuning``: calibration inputs are sized and batched as the rapidocr backend's tuning of that
    name feeds the models (``harness.ocr.ppocr_tuning.TUNINGS``: "floor" never enlarges det's input and
    batches rec crops by width without padding them to 320 px; "shipped" does as RapidOCR does).
    ``pre_process``: ONNX Runtime's ``quant_pre_process``; ``simplify``: the exact PP-LCNetV3 rewrites
    of ``ppocr_graph.simplify``; ``equalize``: cross-layer equalization of ``ppocr_graph.equalize``.
    """

    det: PartSettings = DEFAULT_DET
    rec: PartSettings = DEFAULT_REC
    cls: PartSettings = PartSettings(mode="copy")
    quant_format: str = "QDQ"
    per_channel: bool = True
    reduce_range: bool = True
    activation_type: str = "uint8"
    weight_type: str = "int8"
    calibration_frames: int = 32
    difficulties: tuple[str, ...] = ("easy", "medium", "hard")
    rec_crops: tuple[str, ...] = ("detected", "truth")
    seed: int = 0
    input_tuning: str = "floor"
    pre_process: bool = True
    simplify: bool = True
    equalize: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.quant_format, QUANT_FORMATS, "quant_format"),
            (self.activation_type, QUANT_TYPES, "activation_type"),
            (self.weight_type, QUANT_TYPES, "weight_type"),
        ]
        for value, allowed, name in checks:
            if value not in allowed:
                raise ConfigError(f"int8 {name} must be one of {', '.join(allowed)}, not {value!r}")
        from harness.ocr.ppocr_tuning import TUNINGS

        if self.input_tuning not in TUNINGS:
            raise ConfigError(f"int8 input_tuning must be one of {', '.join(TUNINGS)}, not {self.input_tuning!r}")
        if self.calibration_frames < 1 or not set(self.rec_crops) <= {"detected", "truth"} or not self.rec_crops:
            raise ConfigError("int8 settings need calibration_frames >= 1 and rec_crops from ('detected', 'truth')")

    def part(self, name: str) -> PartSettings:
        """The settings of model ``name`` ("det", "cls" or "rec")."""
        return {"det": self.det, "cls": self.cls, "rec": self.rec}[name]

    @classmethod
    def from_dict(cls, table: dict[str, Any]) -> Int8Settings:
        """Settings from a TOML-style table; sub-tables det/cls/rec override fields of the default ``PartSettings``."""
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
        try:
            for name in ("det", "cls", "rec"):
                if name in values:
                    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in values[name].items()}
                    values[name] = replace(getattr(cls(), name), **fields)
            return cls(**values)
        except TypeError as exc:  # an unknown field name
            raise ConfigError(f"int8 settings: {exc}; see Int8Settings and PartSettings for the fields") from None


class _Feeds:
    """A ``CalibrationDataReader`` over a fixed list of feeds, readable in strides (``CalibStridedMinMax``)."""

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self._feeds = list(feeds)
        self._next, self._end = 0, len(self._feeds)

    def get_next(self) -> Feed | None:
        if self._next >= self._end:
            return None
        self._next += 1
        return self._feeds[self._next - 1]

    def __iter__(self) -> Iterator[Feed]:
        return iter(self.get_next, None)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next, self._end = start_index, min(end_index, len(self._feeds))


def _batches(crops: Sequence[np.ndarray], resize: Callable[[np.ndarray, float], np.ndarray], size: int, base_ratio: float) -> list[Feed]:
    """Crops batched as RapidOCR's recognizer batches them: sorted by aspect ratio, padded to the widest."""
    ratios = [crop.shape[1] / crop.shape[0] for crop in crops]
    order = np.argsort(np.array(ratios), kind="stable")
    feeds = []
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        widest = max([base_ratio, *(ratios[i] for i in chunk)])
        feeds.append({"x": np.stack([resize(crops[i], widest) for i in chunk]).astype(np.float32)})
    return feeds


def calibration_feeds(sources: dict[str, Path], settings: Int8Settings) -> dict[str, list[Feed]]:
    """Calibration inputs of det, cls and rec from synthetic scenes, through RapidOCR's own steps."""
    from harness.sources.synthetic import SceneOptions, generate_scene

    scenes = []
    for index in range(settings.calibration_frames):
        difficulty = settings.difficulties[index % len(settings.difficulties)]
        image, truth = generate_scene(SceneOptions(seed=settings.seed, n=settings.calibration_frames, difficulty=difficulty), index)
        truth_quads = [np.array(w.quad, dtype=np.float32) for w in truth.words if not w.dont_care]
        scenes.append((image, truth_quads if "truth" in settings.rec_crops else []))
    return model_feeds(sources, scenes, detected="detected" in settings.rec_crops, tuning=settings.input_tuning)


Scene = tuple[np.ndarray, Sequence[np.ndarray]]  # a BGR frame and word quads in its coordinates


def model_feeds(sources: dict[str, Path], scenes: Sequence[Scene], detected: bool = True, tuning: str = "shipped") -> dict[str, list[Feed]]:
    """det, cls and rec inputs of ``scenes`` as the rapidocr backend feeds its models at ``tuning`` (``sources``: det, cls and rec files).

    Each frame is preprocessed for det; rec and cls get the crops of its fp32 detections (``detected``)
    and of its given quads, classified, and batched for rec as the tuning batches them ("shipped":
    RapidOCR's own recognizer batches).
    """
    from rapidocr_onnxruntime import RapidOCR

    from harness.ocr.ppocr_tuning import TUNINGS, det_size, det_tensor, rec_batches, rec_tensor

    chosen = TUNINGS[tuning]
    engine = RapidOCR(det_model_path=str(sources["det"]), cls_model_path=str(sources["cls"]), rec_model_path=str(sources["rec"]))
    rec_shape = engine.text_rec.rec_image_shape
    feeds: dict[str, list[Feed]] = {"det": [], "cls": [], "rec": []}
    for frame, given in scenes:
        image, ratio_h, ratio_w = engine.preprocess(frame)
        image, _ = engine.maybe_add_letterbox(image, {})
        if tuning == "shipped":
            feeds["det"].append({"x": engine.text_det.get_preprocess(max(image.shape[:2]))(image)})
        else:
            feeds["det"].append({"x": det_tensor(image, det_size(*image.shape[:2], chosen), chosen.float32_preprocess)})
        quads = []
        if detected:
            boxes, _ = engine.auto_text_det(image)
            quads.extend([] if boxes is None else boxes)
        quads.extend(np.asarray(q, dtype=np.float32) / np.array([ratio_w, ratio_h], dtype=np.float32) for q in given)  # ratios map back
        crops = engine.get_crop_img_list(image, quads)
        feeds["cls"].extend(_batches(crops, lambda c, _: engine.text_cls.resize_norm_img(c), engine.text_cls.cls_batch_num, 0))
        crops, _, _ = engine.text_cls(crops)
        if tuning == "shipped":
            base_ratio = rec_shape[2] / rec_shape[1]
            feeds["rec"].extend(_batches(crops, engine.text_rec.resize_norm_img, engine.text_rec.rec_batch_num, base_ratio))
        else:
            feeds["rec"].extend({"x": rec_tensor([crops[i] for i in batch], chosen)[0]} for batch in rec_batches(crops, chosen))
    return feeds


def _keep_float(model_path: Path, part: PartSettings) -> list[str]:
    """Names of the nodes ``part.keep_float`` selects in the model at ``model_path``."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    constants = {init.name for init in graph.initializer}
    inputs = {value.name for value in graph.input}
    quantizable = [node for node in graph.node if node.op_type in part.op_types]
    convs = [node.name for node in graph.node if node.op_type == "Conv"]
    rules: dict[str, list[str]] = {
        "first": [node.name for node in quantizable if inputs & set(node.input)],
        "last": [quantizable[-1].name] if quantizable else [],
        "act_matmul": [node.name for node in quantizable if node.op_type == "MatMul" and not constants & set(node.input)],
    }
    names: list[str] = []
    for selector in part.keep_float:
        if selector.startswith("first_convs:"):
            chosen = convs[: int(selector.partition(":")[2])]
        else:
            chosen = rules.get(selector) or fnmatch.filter([node.name for node in graph.node], selector)
        if not chosen:
            raise ConfigError(f"int8 keep_float {selector!r} selects no node in {model_path.name}")
        names.extend(name for name in chosen if name not in names)
    return names


def _quantize(source: Path, target: Path, part: PartSettings, feeds: list[Feed], settings: Int8Settings) -> None:
    """Quantize one pre-processed model as ``part`` says."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    types = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    excluded = _keep_float(source, part)
    common: dict[str, Any] = {
        "op_types_to_quantize": list(part.op_types),
        "per_channel": settings.per_channel,
        "reduce_range": settings.reduce_range if part.reduce_range is None else part.reduce_range,
        "weight_type": types[settings.weight_type],
        "nodes_to_exclude": excluded,
    }
    if part.mode == "dynamic":
        quantize_dynamic(source, target, **common)
        return
    quantize_static(
        source,
        target,
        _Feeds(feeds),
        quant_format=QuantFormat.QDQ if settings.quant_format == "QDQ" else QuantFormat.QOperator,
        activation_type=types[settings.activation_type],
        calibrate_method=CalibrationMethod[part.calibrate_method],
        # One feed per calibration pass keeps memory flat: det activations at 1312x736 are large.
        extra_options={"CalibStridedMinMax": 1, "CalibPercentile": part.percentile},
        **common,
    )


# Libraries whose kernels or image code shape the calibration data and ranges, hence the bytes.
BUILD_PACKAGES = ("onnx", "onnxruntime", "numpy", "opencv-python", "pillow", "rapidocr-onnxruntime")


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__}


def build_environment_here() -> dict[str, object]:
    """The ``build_environment`` of this machine for this recipe: instruction set, library versions, the calibration scenes' fonts."""
    from harness.sources.synth_render import available_fonts

    return build_environment(BUILD_PACKAGES, available_fonts())


def _record(out_dir: Path, settings: Int8Settings, sources: dict[str, Path], built: dict[str, Path]) -> None:
    write_record(
        out_dir / "ppocr_int8.json", "ppocr-ort-int8", RECIPE_VERSION, settings, sources, built, _versions(), build_environment_here()
    )


def build_ppocr_int8(source_dir: Path, out_dir: Path, settings: Int8Settings) -> dict[str, Path]:
    """Build det, cls and rec as ``settings`` says into ``out_dir``; returns each part's model file.

    Parts are written as ``<source stem>_int8.onnx`` (static, dynamic), ``<source stem>_float.onnx``
    (float) or under the source's own name (copy), so ``out_dir`` alone holds a complete PP-OCR set.
    """
    sources = {part: Path(source_dir) / name for part, name in MODEL_FILES.items()}
    missing = [str(path) for path in sources.values() if not path.is_file()]
    if missing:
        raise DataMissing(f"PP-OCR source models not found: {', '.join(missing)}; install rapidocr-onnxruntime or fix source_dir")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    needs_calibration = any(settings.part(p).mode == "static" for p in sources)
    feeds = calibration_feeds(sources, settings) if needs_calibration else {}
    built: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="arbench-int8-") as tmp:
        for part, source in sources.items():
            built[part] = _build_part(source, out_dir, Path(tmp), settings.part(part), settings, feeds.get(part, []))
    _record(out_dir, settings, sources, built)
    return built


def built_files(folder: Path) -> dict[str, Path]:
    """det, cls and rec of a set the recipe built into ``folder``, as its ``ppocr_int8.json`` names them.

    A part the folder does not hold (the shipped set keeps only det and rec; cls is the package's) is the
    package's file of that name.
    """
    import json

    from harness.models.manifest import model_root

    record = Path(folder) / "ppocr_int8.json"
    if not record.is_file():
        raise DataMissing(f"{record} missing: build the set with `python -m harness.models.recipes.ort_int8 {folder}`")
    outputs = json.loads(record.read_text(encoding="utf-8"))["outputs"]
    files = {part: Path(folder) / outputs[part]["file"] for part in MODEL_FILES}
    return {part: path if path.is_file() else model_root("rapidocr") / path.name for part, path in files.items()}


def _build_part(source: Path, out_dir: Path, tmp: Path, part: PartSettings, settings: Int8Settings, feeds: list[Feed]) -> Path:
    """Write one model as ``part`` says; returns its path."""
    target = out_dir / (source.name if part.mode == "copy" else f"{source.stem}{OUTPUT_SUFFIX[part.mode]}")
    if part.mode == "copy":
        shutil.copyfile(source, target)
        return target
    prepared = _prepare(source, tmp / source.name, settings, feeds)
    if part.mode == "float":
        shutil.copyfile(prepared, target)
        return target
    if part.hardswish_int8:
        import onnx

        from harness.models.recipes.ppocr_graph import hardswish_as_mul

        onnx.save(hardswish_as_mul(onnx.load(str(prepared))), str(prepared))
    _quantize(prepared, target, part, feeds, settings)
    return target


def _prepare(source: Path, target: Path, settings: Int8Settings, feeds: list[Feed]) -> Path:
    """The source made ready to quantize: opset 14 or later, then pre-processed and simplified if asked.

    Opset 13 gives DequantizeLinear the ``axis`` per-channel weights need, 14 ``HardSwish``.
    ``quant_pre_process`` runs ONNX Runtime's basic graph optimizations (constant folding, which also
    turns the export's ``Constant`` weights into initializers, and Conv+BN fusion) and ONNX shape
    inference; ``ppocr_graph.simplify`` folds PP-LCNetV3's affine blocks and hard-swish.
    """
    import onnx
    from onnx import version_converter

    model = onnx.load(str(source))
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < MIN_OPSET:
        model = version_converter.convert_version(model, MIN_OPSET)
    onnx.save(model, str(target))
    if settings.pre_process:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        # Symbolic shape inference needs sympy and adds nothing the quantizer uses for these models.
        quant_pre_process(str(target), str(target), skip_symbolic_shape=True)
    if settings.simplify:
        from harness.models.recipes.ppocr_graph import simplify

        onnx.save(simplify(onnx.load(str(target))), str(target))
    if settings.equalize and feeds:
        from harness.models.recipes.ppocr_graph import equalize

        model = onnx.load(str(target))
        onnx.save(equalize(model, _channel_absmax(model, feeds)), str(target))
    return target


def _channel_absmax(model: Any, feeds: list[Feed]) -> dict[str, np.ndarray]:
    """Largest |output| per channel of the first convolution of each ``linear_conv_pairs`` pair, over ``feeds``."""
    import onnx
    import onnxruntime

    from harness.models.recipes.ppocr_graph import linear_conv_pairs

    nodes = {node.name: node for node in model.graph.node}
    tensors = {a: nodes[a].output[0] for a, _ in linear_conv_pairs(model)}
    probe = onnx.ModelProto.FromString(model.SerializeToString())
    probe.graph.output.extend(onnx.ValueInfoProto(name=name) for name in tensors.values())
    session = onnxruntime.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    absmax = dict.fromkeys(tensors, 0.0)
    for feed in feeds:
        for conv, value in zip(tensors, session.run(list(tensors.values()), feed), strict=True):
            absmax[conv] = np.maximum(absmax[conv], np.abs(value).max(axis=(0, 2, 3)))
    return {conv: np.asarray(value) for conv, value in absmax.items()}


def inputs_key(settings: Int8Settings | None = None) -> dict[str, Any]:
    """What a default build depends on: recipe version, settings, source hashes and library versions."""
    from harness.models.manifest import model_root

    sources = {part: Path(model_root("rapidocr")) / name for part, name in MODEL_FILES.items()}
    environment = {k: v for k, v in build_environment_here().items() if k != "cpu_model"}
    return inputs_record(RECIPE_VERSION, settings or Int8Settings(), sources, {**_versions(), "built_on": environment})


def build_default(out_dir: Path) -> dict[str, Path]:
    """The int8 det and rec of the default settings, with ``ppocr_int8.json``, in ``out_dir``.

    cls stays the package's fp32 model (it is tiny), so only det, rec and the record are written.
    """
    from harness.models.manifest import model_root

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="arbench-int8-out-") as tmp:
        built = build_ppocr_int8(model_root("rapidocr"), Path(tmp), Int8Settings())
        kept = {}
        for part in ("det", "rec"):
            kept[part] = out_dir / built[part].name
            shutil.copyfile(built[part], kept[part])
        shutil.copyfile(Path(tmp) / "ppocr_int8.json", out_dir / "ppocr_int8.json")
    return kept


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m harness.models.recipes.ort_int8 OUT_DIR [--settings FILE.toml]``: build one int8 set, e.g. a variant to tune."""
    import argparse

    import tomllib

    from harness.models.manifest import model_root

    parser = argparse.ArgumentParser(description="Build PP-OCRv4 int8 (det, cls, rec and ppocr_int8.json) into OUT_DIR.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--settings", type=Path, help="TOML of Int8Settings fields, [det]/[cls]/[rec] tables of PartSettings (default: the recipe's)"
    )
    args = parser.parse_args(argv)
    table = tomllib.loads(args.settings.read_text(encoding="utf-8")) if args.settings else {}
    built = build_ppocr_int8(model_root("rapidocr"), args.out_dir, Int8Settings.from_dict(table))
    print("\n".join(f"{part}: {path}" for part, path in built.items()))


if __name__ == "__main__":
    main()
