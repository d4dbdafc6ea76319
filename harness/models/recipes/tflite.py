"""PP-OCRv4 for LiteRT (TFLite): det, cls and rec converted from ONNX with onnx2tf at fp32, fp16 and int8.

The sources are the ONNX models ``rapidocr-onnxruntime`` ships. LiteRT wants fixed input shapes, and
PP-OCR's are dynamic, so each model is converted at one shape (NCHW in ONNX, NHWC in the .tflite):

- det ``1x3x736x1312``: what RapidOCR's own preprocessing makes of every 16:9 frame this project sees
  (960x540 scenes, 1280x720 cameras and IC15 photos: short side up to ``det_limit_side_len`` 736,
  sides rounded to 32), so on those frames the LiteRT and ONNX backends see the same det input. Other
  frames are scaled to fit and padded (``harness.ocr.litert``).
- cls ``1x3x48x192``: RapidOCR's classifier input, always that size.
- rec ``1x3x48x320``: RapidOCR's base rec shape. Crops up to 320/48 = 6.7 times wider than high are
  padded, wider ones squeezed to 320 (RapidOCR widens the batch instead).

Batch is 1; the backend runs crops one by one. int8 of det and cls is onnx2tf's full-integer
quantization ("full": ``-oiqt``, per-channel weights, int8 activations, float32 input and output so the
backend feeds the same tensors at every precision) calibrated on synthetic scenes through
``ort_int8.calibration_feeds``, never on evaluation data. Full-integer rec is broken (IC15 word crops:
20.7 % words right against 73.3 % at fp32, CER 47 % against 13 %), so rec's int8 is dynamic-range
quantization by default ("dynamic": ``-odrqt``, int8 weights, float activations: 71.7 %, CER 13.5 %).
fp16 stores fp16 weights; XNNPACK on CPU computes in fp32 unless told otherwise.

onnx2tf runs as ``python -m onnx2tf`` in a working directory holding our own calibration files, so it
downloads nothing (it fetches a sample-image file for its checks otherwise), on a copy of each source:
its onnxsim step rewrites the input file in place.

Outputs go to ``out_dir`` as ``<source stem>_<precision>.tflite`` with ``ppocr_tflite.json`` beside
them: settings, sha256 of sources and outputs, library versions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.models.recipes.ort_int8 import MODEL_FILES, Int8Settings, calibration_feeds
from harness.models.recipes.record import inputs_record, write_record
from harness.paths import project_root

__all__ = ["PRECISIONS", "TfliteSettings", "build_default", "build_ppocr_tflite", "default_model_path", "inputs_key", "output_name"]

RECIPE_VERSION = 1
PRECISIONS = ("fp32", "fp16", "int8")
INT8_MODES = ("full", "dynamic")
# onnx2tf's output file suffixes: fp32 and fp16 always; int8 from -oiqt ("full") or -odrqt ("dynamic").
ONNX2TF_SUFFIX = MappingProxyType(
    {"fp32": "_float32.tflite", "fp16": "_float16.tflite", "full": "_full_integer_quant.tflite", "dynamic": "_dynamic_range_quant.tflite"}
)
# onnx2tf checks its conversion on this file (20 images, 128x128, RGB in [0, 1]) and downloads it when
# it is not in the working directory; the recipe writes its own from synthetic scenes.
ONNX2TF_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
NORM = "[[[[0.5,0.5,0.5]]]]"  # PP-OCR's mean and std: (x / 255 - 0.5) / 0.5
INPUT_NAME = "x"  # the input of all three Paddle exports


@dataclass(frozen=True)
class TfliteSettings:
    """One LiteRT build of PP-OCR.

    ``det_shape`` / ``cls_shape`` / ``rec_shape``: fixed input height and width of each model.
    ``det_int8`` / ``cls_int8`` / ``rec_int8``: "full" (calibrated int8 activations) or "dynamic"
    (int8 weights only). ``quant_type``: "per-channel" or "per-tensor" weights. Calibration:
    ``calibration_frames`` synthetic scenes of ``difficulties`` from ``seed``, crops from detection
    and ground truth, at most ``max_crops`` rec and cls samples.
    """

    det_shape: tuple[int, int] = (736, 1312)
    cls_shape: tuple[int, int] = (48, 192)
    rec_shape: tuple[int, int] = (48, 320)
    det_int8: str = "full"
    cls_int8: str = "full"
    rec_int8: str = "dynamic"  # full int8 rec reads 21% of IC15 words, fp32 73% (module docstring)
    quant_type: str = "per-channel"
    calibration_frames: int = 16
    difficulties: tuple[str, ...] = ("easy", "medium", "hard")
    seed: int = 0
    max_crops: int = 300

    def __post_init__(self) -> None:
        for part in MODEL_FILES:
            if self.int8(part) not in INT8_MODES:
                raise ConfigError(f"tflite {part}_int8 must be one of {', '.join(INT8_MODES)}, not {self.int8(part)!r}")
        if self.quant_type not in ("per-channel", "per-tensor"):
            raise ConfigError(f"tflite quant_type must be 'per-channel' or 'per-tensor', not {self.quant_type!r}")
        if any(side % 8 for side in (*self.det_shape, *self.rec_shape)):
            raise ConfigError("tflite det and rec sides must be multiples of 8 (the networks downsample by 8 or 32)")

    def shape(self, part: str) -> tuple[int, int]:
        """Input height and width of model ``part``."""
        return {"det": self.det_shape, "cls": self.cls_shape, "rec": self.rec_shape}[part]

    def int8(self, part: str) -> str:
        """How model ``part`` is made int8."""
        return {"det": self.det_int8, "cls": self.cls_int8, "rec": self.rec_int8}[part]


def default_model_path(part: str, precision: str) -> Path:
    """Where ``arbench models build`` puts the LiteRT model of ``part`` ("det", "cls", "rec") at ``precision``."""
    return project_root() / "models" / "ppocrv4-tflite" / output_name(part, precision)


def output_name(part: str, precision: str) -> str:
    """File name of one built model, e.g. ``ch_PP-OCRv4_det_int8.tflite``."""
    return f"{MODEL_FILES[part].removesuffix('_infer.onnx')}_{precision}.tflite"


def _fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A normalized HWC image scaled down to fit ``height`` x ``width`` if larger, padded with 0 at the bottom and right."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, height / h, width / w)
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))))
    out = np.zeros((height, width, image.shape[2]), dtype=np.float32)
    out[: image.shape[0], : image.shape[1]] = image
    return out


def calibration_arrays(sources: dict[str, Path], settings: TfliteSettings) -> dict[str, np.ndarray]:
    """NHWC calibration samples in [0, 1] per part (onnx2tf applies mean and std), from synthetic scenes.

    The NCHW feeds of ``ort_int8.calibration_feeds`` (RapidOCR's own preprocessing) are split into
    single samples and fitted to each model's fixed shape as the LiteRT backend fits its inputs.
    """
    int8 = Int8Settings(calibration_frames=settings.calibration_frames, difficulties=settings.difficulties, seed=settings.seed)
    feeds = calibration_feeds(sources, int8)
    arrays = {}
    for part, part_feeds in feeds.items():
        height, width = settings.shape(part)
        samples = [_fit(sample.transpose(1, 2, 0), height, width) for feed in part_feeds for sample in feed["x"]]
        if part != "det" and len(samples) > settings.max_crops:
            keep = np.random.default_rng(settings.seed).choice(len(samples), settings.max_crops, replace=False)
            samples = [samples[i] for i in sorted(keep)]
        arrays[part] = (np.stack(samples) + 1.0) / 2.0
    return arrays


def _sample_file(det_samples: np.ndarray, path: Path) -> None:
    """onnx2tf's check images: 20 of our det samples at 128x128 (cycled when fewer)."""
    import cv2

    images = [cv2.resize(det_samples[i % len(det_samples)], (128, 128)) for i in range(20)]
    np.save(path, np.stack(images).astype(np.float32))


def _sanitize(source: Path, target: Path) -> Path:
    """``source`` with node names TensorFlow accepts as scopes (the cls export names nodes "Conv@0")."""
    import onnx

    model = onnx.load(str(source))
    taken: set[str] = set()
    for node in model.graph.node:
        if node.name:
            name = re.sub(r"[^A-Za-z0-9_.\\/>-]", "_", node.name)
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)
    onnx.save(model, str(target))
    return target


def _onnx2tf(source: Path, work: Path, part: str, settings: TfliteSettings, calibration: Path) -> Path:
    """Run onnx2tf on one model in ``work``; returns its output folder."""
    height, width = settings.shape(part)
    out = work / f"{part}_out"
    command = [sys.executable, "-m", "onnx2tf", "-i", str(source), "-o", str(out), "-v", "error"]
    command += ["-ois", f"{INPUT_NAME}:1,3,{height},{width}"]
    if settings.int8(part) == "dynamic":
        command += ["-odrqt"]
    else:
        command += ["-oiqt", "-qt", settings.quant_type, "-iqd", "float32", "-oqd", "float32"]
        command += ["-cind", INPUT_NAME, str(calibration), NORM, NORM]
    # onnx2tf runs the ``onnxsim`` command (which also fixes the input shape): find it beside this Python.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise RuntimeError(f"onnx2tf failed on {source.name} (exit {done.returncode}):\n{tail}")
    return out


def _versions() -> dict[str, str]:
    names = ("onnx2tf", "tensorflow", "tf_keras", "onnx", "onnxruntime", "onnxsim", "onnx_graphsurgeon", "sng4onnx", "numpy")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def _record(out_dir: Path, settings: TfliteSettings, sources: dict[str, Path], built: dict[str, Path]) -> None:
    write_record(out_dir / "ppocr_tflite.json", "ppocr-tflite", RECIPE_VERSION, settings, sources, built, _versions())


def _check_tools() -> None:
    from importlib.util import find_spec

    missing = [name for name in ("onnx2tf", "tensorflow", "tf_keras", "onnx_graphsurgeon", "sng4onnx", "psutil") if find_spec(name) is None]
    if missing:
        raise BackendUnavailable(f"tflite recipe: {', '.join(missing)} missing; run `pip install 'arbench[convert]'`")


def build_ppocr_tflite(
    source_dir: Path, out_dir: Path, settings: TfliteSettings, parts: tuple[str, ...] = tuple(MODEL_FILES)
) -> dict[str, Path]:
    """Convert ``parts`` of PP-OCR to LiteRT at every precision into ``out_dir``; keys are "<part>-<precision>"."""
    _check_tools()
    sources = {part: Path(source_dir) / MODEL_FILES[part] for part in MODEL_FILES}
    missing = [str(path) for path in sources.values() if not path.is_file()]
    if missing:
        raise DataMissing(f"PP-OCR source models not found: {', '.join(missing)}; install rapidocr-onnxruntime or fix source_dir")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = calibration_arrays(sources, settings)
    built: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="arbench-tflite-") as tmp:
        work = Path(tmp)
        _sample_file(arrays["det"], work / ONNX2TF_SAMPLE_FILE)
        for part in parts:
            calibration = work / f"calibration_{part}.npy"
            np.save(calibration, arrays[part].astype(np.float32))
            prepared = _sanitize(sources[part], work / sources[part].name)
            converted = _onnx2tf(prepared, work, part, settings, calibration)
            stem = sources[part].stem
            for precision in PRECISIONS:
                suffix = ONNX2TF_SUFFIX[settings.int8(part) if precision == "int8" else precision]
                target = out_dir / output_name(part, precision)
                shutil.copyfile(converted / f"{stem}{suffix}", target)
                built[f"{part}-{precision}"] = target
    _record(out_dir, settings, {part: sources[part] for part in parts}, built)
    return built


def build_default(out_dir: Path) -> dict[str, Path]:
    """Build det, cls and rec at fp32, fp16 and int8 with the default settings into ``out_dir``."""
    from harness.models.manifest import model_root

    return build_ppocr_tflite(model_root("rapidocr"), Path(out_dir), TfliteSettings())


def inputs_key(settings: TfliteSettings | None = None) -> dict[str, Any]:
    """What a default build depends on: recipe version, settings, source hashes and library versions."""
    from harness.models.manifest import model_root

    sources = {part: Path(model_root("rapidocr")) / name for part, name in MODEL_FILES.items()}
    return inputs_record(RECIPE_VERSION, settings or TfliteSettings(), sources, _versions())
