"""PP-OCRv4 on PyTorch (CPU or CUDA, fp32 / fp16 / bf16), det / cls / rec timed separately, as the rapidocr backend.

The models are the package's ONNX graphs run op by op by ``harness.ocr.torch_graph`` (written by the
recipe ``ppocr-torch``; ``arbench models build``), so the weights are exactly those ONNX Runtime runs; at
fp32 on the CPU every output agrees with ONNX Runtime's to float rounding. fp16 and bf16 cast the
weights and the input once on the device. RapidOCR and ``harness.ocr.ppocr_tuning`` supply the rest:
det input, DB post-processing, crops, the classifier's batching, rec batches and CTC decoding, at the
``tuning`` of the rapidocr backend ("shipped" or "floor").

On a GPU each call is three steps with their own edges: the batch copied to the device ("<part>.h2d",
a sub-span of "ocr.det" / "ocr.cls" / "ocr.rec"), the model up to ``torch.cuda.synchronize`` (the part's
``model_ns``: the span never ends before the GPU has finished), and the outputs copied back
("<part>.d2h"). On the CPU there is no copy and no sub-span.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.accelerators import GPU_PROVIDERS
from harness.context import BackendContext, ModelRef
from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.ocr.ppocr_tuning import TUNINGS, Tuning
from harness.ocr.rapidocr import PARTS, PpOcrOptions, RapidOcr, ppocr_model_refs
from harness.ocr.torch_graph import DTYPES, TorchSession
from harness.trace import Tracer

__all__ = ["PpOcrTorch", "PpOcrTorchOptions", "TorchSession", "model_refs", "numeric_precision", "preflight"]

BACKEND = "ppocr-torch"
DEVICE_PRECISIONS = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "fp16", "bf16")}  # fp16 convolutions on a CPU: not a path anyone runs
INSTALL = "run `pip install 'arbench[peer]'` (torch, safetensors)"


@dataclass(frozen=True)
class PpOcrTorchOptions(PpOcrOptions):
    """PP-OCR on PyTorch.

    ``precision``: fp32, bf16 (CPU and CUDA) or fp16 (CUDA), the weights cast at load. ``device``: auto
    (CUDA where torch sees a GPU and the profile prefers one), cpu, cuda or cuda:N. ``tuning``: the
    rapidocr backend's "shipped" or "floor" det input and rec batching (``det_limit_side_len`` unset
    takes the tuning's). ``threads``: ``torch.set_num_threads`` on the CPU.
    """

    device: str = "auto"
    tuning: str = "shipped"
    det_limit_side_len: int | None = None  # type: ignore[assignment]  # unset: the tuning's

    def __post_init__(self) -> None:
        if self.precision not in DTYPES:
            raise ConfigError(f"ppocr-torch precision must be one of {', '.join(DTYPES)}, not {self.precision!r}")
        if self.tuning not in TUNINGS:
            raise ConfigError(f"ppocr-torch tuning must be one of {', '.join(TUNINGS)}, not {self.tuning!r}")
        if self.device not in {"auto", "cpu"} and not self.device.startswith("cuda"):
            raise ConfigError(f"ppocr-torch device must be auto, cpu, cuda or cuda:N, not {self.device!r}")

    def settings(self) -> Tuning:
        """The tuning's settings, with ``det_limit_side_len`` where set."""
        chosen = TUNINGS[self.tuning]
        limit = self.det_limit_side_len if self.det_limit_side_len is not None else chosen.det_limit_side_len
        return Tuning(**{**chosen.__dict__, "det_limit_side_len": limit})


def model_refs(options: PpOcrTorchOptions) -> dict[str, ModelRef]:
    """det, cls and rec graphs (fp32 files whatever the precision: it is a cast at load), or the .json files named."""
    return ppocr_model_refs(replace(options, precision="fp32"), BACKEND, "", "fp32")


def numeric_precision(options: PpOcrTorchOptions) -> str:
    """The precision the models run at (a cast of the same files, so named files keep it too)."""
    return options.precision


def _torch() -> Any:
    try:
        import safetensors  # noqa: F401 - the graphs' weights
        import torch
    except ImportError as exc:
        raise BackendUnavailable(f"ppocr-torch backend: {exc}; {INSTALL}") from None
    return torch


def choose_device(options: PpOcrTorchOptions, torch: Any, providers: tuple[str, ...]) -> str:
    """The device the options ask for, checked against what torch sees; "auto" follows the profile's preference."""
    has_cuda = bool(torch.cuda.is_available())
    if options.device == "auto":
        device = "cuda" if has_cuda and any(p in GPU_PROVIDERS for p in providers) else "cpu"
    elif options.device.startswith("cuda") and not has_cuda:
        raise BackendUnavailable(f"ppocr-torch backend: device {options.device!r} asked for, but PyTorch sees no CUDA GPU (a CPU build?)")
    else:
        device = options.device
    kind = device.split(":")[0]
    if options.precision not in DEVICE_PRECISIONS[kind]:
        message = f"ppocr-torch: precision {options.precision} does not run on {kind}; there: {', '.join(DEVICE_PRECISIONS[kind])}"
        raise (BackendUnavailable if options.device == "auto" else ConfigError)(message)  # auto: this machine lacks the GPU it needs
    return device


def preflight(options: PpOcrTorchOptions, context: BackendContext) -> None:
    """Check before a run: torch and safetensors installed, the device and precision possible here."""
    choose_device(options, _torch(), context.providers)


class PpOcrTorch(RapidOcr):
    """PP-OCRv4 det + cls + rec on PyTorch: the rapidocr backend's steps, its ONNX Runtime sessions swapped for ``TorchSession``."""

    name = BACKEND
    options: PpOcrTorchOptions  # type: ignore[assignment]

    def __init__(self, options: PpOcrTorchOptions, context: BackendContext) -> None:
        torch = _torch()
        self.device = choose_device(options, torch, context.providers)
        threads = options.threads or context.threads
        if threads and self.device == "cpu":
            torch.set_num_threads(threads)
        super().__init__(options, context)  # type: ignore[arg-type]  # RapidOCR's steps, with the sessions below

    def _open_sessions(self, options: PpOcrOptions, context: BackendContext) -> dict[str, Any]:  # type: ignore[override]
        """det, cls and rec on PyTorch, on the chosen device at the options' precision."""
        try:
            return {part: TorchSession(self._paths[part], self.device, self.options.precision) for part in PARTS}
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataMissing(f"ppocr-torch: cannot load the graphs ({first}); rebuild them with `arbench models build`") from None

    def model_files(self) -> tuple[Path, ...]:
        """Each graph in use and its weights."""
        return tuple(f for path in super().model_files() for f in (path, path.with_suffix(".safetensors")))

    def _detect(self, image: np.ndarray, tracer: Tracer) -> tuple[list[np.ndarray], np.ndarray] | None:
        self._bind_clock(tracer)
        return super()._detect(image, tracer)

    def _read_crops(self, crops: list[np.ndarray], tracer: Tracer, threshold: float) -> list[tuple[int, str, float]]:
        self._bind_clock(tracer)
        return super()._read_crops(crops, tracer, threshold)

    def _bind_clock(self, tracer: Tracer) -> None:
        """Copies are timed on the tracer's clock, so their sub-spans sit inside the part's span."""
        for session in self._sessions.values():
            session.clock = tracer.clock
