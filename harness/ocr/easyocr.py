"""EasyOCR (CRAFT detector + CRNN recognizer on PyTorch) as an optional backend that never downloads.

EasyOCR fetches its weights from the network on first use. A benchmark must not, so the reader is built
with ``download_enabled=False`` after checking that the files it will load are in the model folder; when
they are not, one line names the folder, the files and how to fetch them once on a machine with internet.
Which recognizer file EasyOCR picks depends on the languages (``recognizer_file`` follows its rule).

``readtext`` is EasyOCR's ``detect`` followed by ``recognize``; this backend calls the two itself inside
"ocr.det" and "ocr.rec" spans with the same arguments ``readtext`` passes. The detector gets RGB, as
``readtext`` does for image files (it would pass a BGR array through unchanged). On CPU EasyOCR quantizes
its networks dynamically to int8 (``quantize``, its default); switch it off to measure float32.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from harness.context import BackendContext
from harness.errors import BackendUnavailable, ConfigError
from harness.ocr.tesseract import reading_order
from harness.trace import Tracer
from harness.types import Frame, TextRegion, quad_from_array

__all__ = ["EasyOcr", "EasyOcrOptions", "default_model_dir", "model_dir", "preflight", "recognizer_file", "required_weights"]

DETECTORS = ("craft", "dbnet18")
DECODERS = ("greedy", "beamsearch", "wordbeamsearch")
INSTALL = "run `pip install easyocr` (it brings torch and torchvision)"


@dataclass(frozen=True)
class EasyOcrOptions:
    """Options of the EasyOCR backend.

    ``lang_list``: EasyOCR language codes ("en", "es", "de"...). ``model_dir``: folder with the .pth weights
    (default: ``$EASYOCR_MODULE_PATH/model``, else ``~/.EasyOCR/model``, where EasyOCR puts them).
    ``gpu``: run on CUDA (an error if torch sees none). ``quantize``: EasyOCR's dynamic int8 on CPU.
    ``threads``: torch intra-op threads (0: the device profile's). ``min_confidence``: 0..1, regions below
    it are dropped. The rest are ``readtext``'s arguments of the same names, at EasyOCR's defaults.
    """

    lang_list: tuple[str, ...] = ("en",)
    model_dir: str | None = None
    gpu: bool = False
    detect_network: str = "craft"
    quantize: bool = True
    threads: int = 0
    min_confidence: float = 0.0
    decoder: str = "greedy"
    canvas_size: int = 2560
    mag_ratio: float = 1.0
    text_threshold: float = 0.7
    low_text: float = 0.4
    link_threshold: float = 0.4

    def __post_init__(self) -> None:
        if not self.lang_list:
            raise ConfigError("easyocr lang_list is empty; name at least one language such as 'en'")
        if self.detect_network not in DETECTORS:
            raise ConfigError(f"easyocr detect_network must be one of {', '.join(DETECTORS)}, not {self.detect_network!r}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"easyocr decoder must be one of {', '.join(DECODERS)}, not {self.decoder!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"easyocr min_confidence is on a 0..1 scale, not {self.min_confidence}")


def default_model_dir() -> Path:
    """Where EasyOCR keeps its weights when not told otherwise (the same rule as ``easyocr.config``)."""
    module_path = os.environ.get("EASYOCR_MODULE_PATH") or os.environ.get("MODULE_PATH") or os.path.expanduser("~/.EasyOCR/")
    return Path(module_path) / "model"


def recognizer_file(lang_list: Sequence[str], config: Any) -> str:
    """The recognition weights EasyOCR 1.7's ``Reader`` picks for ``lang_list``: its rule, in its order."""
    langs = set(lang_list)
    gen1, gen2 = config.recognition_models["gen1"], config.recognition_models["gen2"]
    if list(lang_list) == ["en"]:
        return gen2["english_g2"]["filename"]
    by_code = (
        ("th", gen1["thai_g1"]),
        ("ch_tra", gen1["zh_tra_g1"]),
        ("ch_sim", gen2["zh_sim_g2"]),
        ("ja", gen2["japanese_g2"]),
        ("ko", gen2["korean_g2"]),
        ("ta", gen1["tamil_g1"]),
        ("te", gen2["telugu_g2"]),
        ("kn", gen2["kannada_g2"]),
        (config.bengali_lang_list, gen1["bengali_g1"]),
        (config.arabic_lang_list, gen1["arabic_g1"]),
        (config.devanagari_lang_list, gen1["devanagari_g1"]),
        (config.cyrillic_lang_list, gen2["cyrillic_g2"]),
    )
    for codes, model in by_code:
        if langs & ({codes} if isinstance(codes, str) else set(codes)):
            return model["filename"]
    return gen2["latin_g2"]["filename"]


def model_dir(options: EasyOcrOptions) -> Path:
    """The folder the weights are read from: ``options.model_dir`` or EasyOCR's default."""
    return Path(options.model_dir).expanduser() if options.model_dir else default_model_dir()


def required_weights(options: EasyOcrOptions, config: Any) -> tuple[Path, ...]:
    """The detector and recognizer files ``options`` need; BackendUnavailable naming those missing and the fix."""
    folder = model_dir(options)
    names = (config.detection_models[options.detect_network]["filename"], recognizer_file(options.lang_list, config))
    files = tuple(folder / name for name in names)
    missing = [path.name for path in files if not path.is_file()]
    if missing:
        langs = ", ".join(repr(lang) for lang in options.lang_list)
        raise BackendUnavailable(
            f"easyocr weights missing in {folder}: {', '.join(missing)}; on a machine with internet run "
            f'`python -c "import easyocr; easyocr.Reader([{langs}])"` and copy ~/.EasyOCR/model here (or set `model_dir`)'
        )
    return files


def numeric_precision(options: EasyOcrOptions) -> str:
    """EasyOCR's own dynamic int8 on CPU when ``quantize`` is on (its default), else fp32."""
    return "int8" if options.quantize and not options.gpu else "fp32"


def preflight(options: EasyOcrOptions, context: BackendContext) -> None:
    """Check before a run, without loading torch, that EasyOCR is installed and its weights are present."""
    required_weights(options, _easyocr_config())


def _easyocr_config() -> Any:
    """EasyOCR's ``config`` module, read from its file: importing ``easyocr`` itself loads torch (seconds)."""
    loaded = sys.modules.get("easyocr")
    if loaded is not None and hasattr(loaded, "config"):
        return loaded.config
    spec = find_spec("easyocr")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"easyocr backend: package missing; {INSTALL}")
    config_spec = spec_from_file_location("_easyocr_config", Path(next(iter(spec.submodule_search_locations))) / "config.py")
    if config_spec is None or config_spec.loader is None:
        raise BackendUnavailable(f"easyocr backend: easyocr/config.py not found; {INSTALL}")
    config = module_from_spec(config_spec)
    config_spec.loader.exec_module(config)
    return config


def _import_easyocr() -> ModuleType:
    try:
        import easyocr
    except ImportError as exc:
        raise BackendUnavailable(f"easyocr backend: {exc}; {INSTALL}") from None
    except RuntimeError as exc:  # PyPI's torchvision is a CUDA build: with a CPU torch its operators fail to register
        raise BackendUnavailable(
            f"easyocr backend: torchvision does not match torch ({exc}); install both from the same index, both CPU or both CUDA"
        ) from None
    return easyocr


class EasyOcr:
    """EasyOCR's CRAFT (or DBNet) detector and CRNN recognizer, loaded from a local folder only."""

    name = "easyocr"

    def __init__(self, options: EasyOcrOptions, context: BackendContext) -> None:
        self.options = options
        easyocr = _import_easyocr()
        self.model_dir = model_dir(options)
        self._files = required_weights(options, easyocr.config)
        self._reader = self._load(easyocr, context)

    def _load(self, easyocr: ModuleType, context: BackendContext) -> Any:
        import torch

        if self.options.gpu and not torch.cuda.is_available():
            raise BackendUnavailable("easyocr gpu = true but torch sees no CUDA device; set gpu = false or install a CUDA build of torch")
        threads = self.options.threads or context.threads
        if threads > 0:
            torch.set_num_threads(threads)
        try:
            return easyocr.Reader(
                list(self.options.lang_list),
                gpu=self.options.gpu,
                model_storage_directory=str(self.model_dir),
                detect_network=self.options.detect_network,
                download_enabled=False,
                quantize=self.options.quantize,
                verbose=False,
            )
        except FileNotFoundError as exc:  # raised for a file whose md5 EasyOCR does not know
            raise BackendUnavailable(f"easyocr: {exc}: the file is corrupt or from another EasyOCR version; fetch it again") from None

    def accelerators(self) -> dict[str, str]:
        """Where the models run: CUDA with ``gpu``, else the CPU."""
        return {"model": "cuda" if self.options.gpu else "cpu"}

    def model_files(self) -> tuple[Path, ...]:
        return self._files

    def recognize(self, frame: Frame, tracer: Tracer) -> list[TextRegion]:
        if frame.image is None:
            raise ValueError("easyocr needs an image; this frame carries only text")
        opts = self.options
        if frame.word_crop:  # one word: recognize the whole crop (EasyOCR's own default without boxes), keep every answer
            height, width = frame.image.shape[:2]
            with tracer.span("ocr.rec"):
                whole = [[0, width, 0, height]]
                results = self._reader.recognize(_channels(frame.image)[1], whole, [], decoder=opts.decoder, reformat=False)
            return [TextRegion(quad_from_array(box), str(text).strip(), float(score)) for box, text, score in results if str(text).strip()]
        with tracer.span("ocr.det") as det:
            rgb, gray = _channels(frame.image)
            horizontal, free = self._reader.detect(
                rgb,
                text_threshold=opts.text_threshold,
                low_text=opts.low_text,
                link_threshold=opts.link_threshold,
                canvas_size=opts.canvas_size,
                mag_ratio=opts.mag_ratio,
                reformat=False,
            )
            horizontal, free = horizontal[0], free[0]
            det["boxes"] = len(horizontal) + len(free)
        if not horizontal and not free:
            return []
        with tracer.span("ocr.rec"):
            results = self._reader.recognize(gray, horizontal, free, decoder=opts.decoder, reformat=False)
        return self._regions(results)

    def _regions(self, results: list[Any]) -> list[TextRegion]:
        regions = [
            TextRegion(quad_from_array(box), str(text).strip(), float(score))
            for box, text, score in results
            if float(score) >= self.options.min_confidence and str(text).strip()
        ]
        boxes = [_bounds(region) for region in regions]
        return [regions[i] for i in reading_order(boxes)]

    def close(self) -> None:
        self._reader = None


def _channels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB for the detector and grey for the recognizer, from a BGR (or grey) frame."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), image
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _bounds(region: TextRegion) -> tuple[int, int, int, int]:
    xs = [x for x, _ in region.quad]
    ys = [y for _, y in region.quad]
    return int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))
