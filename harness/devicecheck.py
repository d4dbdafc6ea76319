"""The GPU device check: the PyTorch OCR and MT backends on CUDA at fp32 / fp16 / bf16 against the same on the CPU.

    make device-check                       # here: the inputs, then the check (the GPU rows say why not without one)
    python -m harness.devicecheck inputs    # build/device-check/inputs.npz, on a machine with the full install
    python -m harness.devicecheck run --out results/device-check [--seconds 5]

``run`` needs only what a data-centre GPU image with PyTorch has: torch, numpy, safetensors, transformers and
sentencepiece (MT; skipped with the reason where absent) and nvidia-ml-py (energy; unavailable without it).
It carries its inputs (``inputs.npz``: a 1280x720 synthetic sign scene as PP-OCRv4 det's 1x3x736x1312
input at the shipped tuning, six of its word crops as a rec batch and a cls batch) and the models
(``build/models/ppocrv4-torch``, ``models/nmt-en-es/hf``); it downloads nothing.

Per stage (ocr.det, ocr.cls, ocr.rec, mt.translate: phrasebook phrases one at a time, as signs), device and
precision: ``warmup`` calls apart, then calls for at least ``seconds`` (and ``iterations``), each timed to
the device's synchronize, with the host→device and device→host copies apart (OCR). On the GPU the NVML
energy counter is read at the block's edges (it moves every 20-100 ms, so energy is per block, divided by
its calls), power is sampled every 20 ms over the same block and integrated (the check of the counter:
``AGREEMENT_TOLERANCE``), and the idle power measured before the first block is subtracted for the net
figure. Accuracy against the CPU at fp32: det's score map (pixels on the same side of DB's 0.3 threshold),
cls's and rec's argmax per position, MT's output text. The GPU's name, clocks, power limit and NVML's
averaging window are recorded; the run is labelled by what the machine is (a data-centre GPU is the cloud
side of offload, never a Jetson). Results: ``<out>/<timestamp>-<gpu>/device_check.json`` and ``table.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import re
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ArbenchError, DataMissing
from harness.paths import project_root

__all__ = ["Measured", "build_inputs", "main", "measure_mt", "measure_ocr", "run_check", "table"]

INPUTS = project_root() / "build/device-check/inputs.npz"
GRAPHS = project_root() / "build/models/ppocrv4-torch"
NMT = project_root() / "models/nmt-en-es/hf"
PRECISIONS = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "fp16", "bf16")}
MT_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
DB_THRESHOLD = 0.3  # RapidOCR's DB binarization threshold
POWER_PERIOD_S = 0.02
PHRASES = 64  # phrasebook phrases per MT block, repeated until the block's time is up


@dataclass
class Measured:
    """One stage on one device at one precision: latency, copies, energy and agreement with the CPU at fp32."""

    stage: str
    device: str
    precision: str
    calls: int = 0
    mean_ms: float = float("nan")
    p50_ms: float = float("nan")
    h2d_ms: float | None = None
    d2h_ms: float | None = None
    tokens_per_s: float | None = None
    energy_j_per_call: float | None = None  # GPU, counter, gross
    net_energy_j_per_call: float | None = None  # less the idle power over the same time
    integrated_j_per_call: float | None = None  # sampled power, integrated: the counter's check
    counter_vs_integrated: float | None = None  # integrated / counter
    agreement: float | None = None  # with the CPU at fp32 (1.0 = identical decisions)
    note: str = ""
    samples_ms: list[float] = field(default_factory=list)


class PowerSampler:
    """NVML power of one GPU every ``POWER_PERIOD_S`` on a thread, integrated over a window on the monotonic clock."""

    def __init__(self, nvml: Any, handle: Any) -> None:
        self.nvml, self.handle = nvml, handle
        self.samples: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(POWER_PERIOD_S):
            self.samples.append((time.monotonic_ns(), self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3))

    def joules(self, start_ns: int, end_ns: int) -> float:
        """Trapezoids of the samples inside [start, end] (W × s)."""
        inside = [(t, w) for t, w in list(self.samples) if start_ns <= t <= end_ns]
        return float(sum((b[0] - a[0]) / 1e9 * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(inside)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class Gpu:
    """NVML on GPU 0: its state, the energy counter (J) and a power sampler; ``reason`` says why not."""

    def __init__(self) -> None:
        self.nvml: Any = None
        self.handle: Any = None
        self.state: dict[str, Any] = {}
        self.reason = ""
        self.sampler: PowerSampler | None = None
        self.idle_w: float | None = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml, self.handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception as exc:  # noqa: BLE001 - ImportError, or NVMLError and its subclasses
            self.reason = f"NVML unavailable: {exc}"
            return
        from harness.energy.nvml import gpu_state

        self.state = gpu_state(pynvml, self.handle)
        self.sampler = PowerSampler(pynvml, self.handle)

    def counter_j(self) -> float | None:
        if self.nvml is None:
            return None
        try:
            return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3
        except self.nvml.NVMLError:
            return None  # before Volta: power only

    def measure_idle(self, seconds: float) -> None:
        start, t0 = self.counter_j(), time.monotonic_ns()
        time.sleep(seconds)
        end, t1 = self.counter_j(), time.monotonic_ns()
        if start is not None and end is not None:
            self.idle_w = (end - start) / ((t1 - t0) / 1e9)
        elif self.sampler is not None:
            self.idle_w = self.sampler.joules(t0, t1) / ((t1 - t0) / 1e9)

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.close()
        if self.nvml is not None:
            self.nvml.nvmlShutdown()


def _block(call: Any, seconds: float, iterations: int, gpu: Gpu | None, row: Measured) -> None:
    """Run ``call`` (returns its own ms) for at least ``seconds`` and ``iterations``; energy over the block on a GPU."""
    start_j, t0 = (gpu.counter_j() if gpu else None), time.monotonic_ns()
    deadline = time.perf_counter() + seconds
    while row.calls < iterations or time.perf_counter() < deadline:
        row.samples_ms.append(call())
        row.calls += 1
    end_j, t1 = (gpu.counter_j() if gpu else None), time.monotonic_ns()
    row.mean_ms = float(np.mean(row.samples_ms))
    row.p50_ms = float(np.median(row.samples_ms))
    if gpu is None:
        return
    if start_j is not None and end_j is not None:
        row.energy_j_per_call = (end_j - start_j) / row.calls
        if gpu.idle_w is not None:
            row.net_energy_j_per_call = row.energy_j_per_call - gpu.idle_w * (t1 - t0) / 1e9 / row.calls
    if gpu.sampler is not None:
        row.integrated_j_per_call = gpu.sampler.joules(t0, t1) / row.calls
        if row.energy_j_per_call:
            row.counter_vs_integrated = row.integrated_j_per_call / row.energy_j_per_call


def _agreement(stage: str, got: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """The share of decisions equal to the CPU fp32 ones: det pixels above the DB threshold, cls/rec argmax."""
    y, ref = got[0], reference[0]
    if stage == "ocr.det":
        return float(np.mean((y > DB_THRESHOLD) == (ref > DB_THRESHOLD)))
    return float(np.mean(y.argmax(axis=-1) == ref.argmax(axis=-1)))


def measure_ocr(device: str, precision: str, inputs: dict[str, np.ndarray], reference: dict[str, list[np.ndarray]],
                seconds: float, iterations: int, warmup: int, gpu: Gpu | None) -> list[Measured]:  # fmt: skip
    """det, cls and rec on ``device`` at ``precision``; ``reference`` (the CPU fp32 outputs) is filled when empty."""
    from harness.ocr.torch_graph import TorchSession

    rows = []
    for stage, part in (("ocr.det", "det"), ("ocr.cls", "cls"), ("ocr.rec", "rec")):
        session = TorchSession(GRAPHS / f"ppocrv4_{part}.json", device, precision)
        batch = inputs[part].astype(np.float32)
        row = Measured(stage, device, precision)
        for _ in range(warmup):
            outputs = session(batch)
        session.take_copies(), session.take_model_ns()
        copies: dict[str, list[int]] = {"h2d": [], "d2h": []}

        def call(session: TorchSession = session, batch: np.ndarray = batch, copies: dict[str, list[int]] = copies) -> float:
            started = time.perf_counter_ns()
            session(batch)
            for name, start_ns, end_ns in session.take_copies():
                copies[name].append(end_ns - start_ns)
            return (time.perf_counter_ns() - started) / 1e6

        _block(call, seconds, iterations, gpu, row)
        if copies["h2d"]:
            row.h2d_ms, row.d2h_ms = float(np.mean(copies["h2d"])) / 1e6, float(np.mean(copies["d2h"])) / 1e6
        reference.setdefault(stage, outputs)
        row.agreement = _agreement(stage, outputs, reference[stage])
        rows.append(row)
        del session
    return rows


def measure_mt(device: str, precision: str, phrases: list[str], reference: dict[str, list[str]],
               seconds: float, iterations: int, warmup: int, gpu: Gpu | None) -> Measured:  # fmt: skip
    """The Transformers backend on the shipped NMT weights, one phrase per call (batch 1, greedy)."""
    from harness.context import BackendContext
    from harness.mt.transformers_peer import TransformersPeer, TransformersPeerOptions
    from harness.trace import Tracer

    row = Measured("mt.translate", device, precision)
    options = TransformersPeerOptions(model=str(NMT), device=device, compute_type=MT_TYPES[precision], beam_size=1)
    backend = TransformersPeer(options, BackendContext(threads=0, models={"model": NMT}))
    for phrase in phrases[:warmup]:
        backend.translate([phrase])
    outputs: list[str] = []
    tokens: list[int] = []

    def call() -> float:
        tracer = Tracer()
        outputs.append(backend.translate([phrases[len(outputs) % len(phrases)]], tracer)[0])
        span = next(s for s in tracer.spans if s.name == "mt.translate")
        tokens.append(sum(span.attrs["tokens_out"]))
        return sum(s.duration_ns for s in tracer.spans) / 1e6

    _block(call, seconds, max(iterations, len(phrases)), gpu, row)
    row.tokens_per_s = float(sum(tokens) / (sum(row.samples_ms) / 1e3))
    first = outputs[: len(phrases)]
    reference.setdefault("mt", first)
    row.agreement = float(np.mean([a == b for a, b in zip(first, reference["mt"], strict=True)]))
    return row


def _environment(torch: Any, gpu: Gpu) -> dict[str, Any]:
    cuda = bool(torch.cuda.is_available())
    name = torch.cuda.get_device_name(0) if cuda else None
    tegra = Path("/etc/nv_tegra_release").exists()
    role = (
        "jetson (edge device)"
        if tegra
        else ("data-centre or desktop GPU: the cloud side of offload, not an edge device" if cuda else "CPU only")
    )
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "gpu_name": name,
        "gpu_capability": list(torch.cuda.get_device_capability(0)) if cuda else None,
        "gpu": gpu.state,
        "nvml": gpu.reason or "available",
        "idle_w": gpu.idle_w,
        "role": role,
        "cpu_threads": torch.get_num_threads(),
    }


def _phrases() -> list[str]:
    from harness.sources.phrasebook import load_phrasebook

    return [entry.en for entry in load_phrasebook()][:PHRASES]


def run_check(out: Path, seconds: float, iterations: int, warmup: int, inputs_path: Path = INPUTS) -> Path:
    """Measure every stage on the CPU, then on CUDA where torch has it; write the results folder and return it."""
    try:
        import torch
    except ImportError:
        raise DataMissing("device check: PyTorch is not installed; it is the one package this check needs") from None
    if not inputs_path.is_file():
        raise DataMissing(f"device check: {inputs_path} is missing; run `python -m harness.devicecheck inputs` where arbench is installed")
    if not (GRAPHS / "ppocrv4_det.json").is_file():
        raise DataMissing(f"device check: {GRAPHS} is missing; run `arbench models build` and carry it")
    inputs = dict(np.load(inputs_path))
    gpu = Gpu()
    if gpu.nvml is not None:
        gpu.measure_idle(3.0)
    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    rows: list[Measured] = []
    skipped: list[str] = [] if "cuda" in devices else ["cuda: PyTorch sees no CUDA GPU here; the GPU rows are unmeasured"]
    ocr_ref: dict[str, list[np.ndarray]] = {}
    mt_ref: dict[str, list[str]] = {}
    try:
        phrases = _phrases()
        import sentencepiece  # noqa: F401 - the Marian tokenizer's
        import transformers  # noqa: F401
    except ImportError as exc:
        phrases, skipped = [], [*skipped, f"mt: {exc}; the MT rows are unmeasured"]
    for device in devices:
        meter = gpu if device == "cuda" and gpu.nvml is not None else None
        for precision in PRECISIONS[device]:
            rows += measure_ocr(device, precision, inputs, ocr_ref, seconds, iterations, warmup, meter)
            if phrases:
                rows.append(measure_mt(device, precision, phrases, mt_ref, seconds, iterations, warmup, meter))
    environment = _environment(torch, gpu)
    gpu.close()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", environment["gpu_name"] or "cpu-only").strip("-").lower()
    folder = Path(out) / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{slug}"
    folder.mkdir(parents=True, exist_ok=True)
    from harness.energy.nvml import AGREEMENT_TOLERANCE

    result = {
        "environment": environment,
        "settings": {
            "seconds": seconds,
            "iterations": iterations,
            "warmup": warmup,
            "inputs": inputs_path.name,
            "agreement_tolerance": AGREEMENT_TOLERANCE,
        },
        "skipped": skipped,
        "rows": [asdict(r) for r in rows],
    }
    (folder / "device_check.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (folder / "table.md").write_text(table(result), encoding="utf-8")
    return folder


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def table(result: dict[str, Any]) -> str:
    """The check as a Markdown table, with the machine above it."""
    env = result["environment"]
    gpu = env.get("gpu") or {}
    lines = [
        f"Device check: {env['gpu_name'] or 'no GPU'} ({env['role']}); torch {env['torch']}, CUDA {env['cuda_runtime']}",
        f"clocks SM {gpu.get('sm_clock_mhz')}/{gpu.get('max_sm_clock_mhz')} MHz, "
        f"memory {gpu.get('mem_clock_mhz')}/{gpu.get('max_mem_clock_mhz')} MHz; power limit {gpu.get('power_limit_w')} W; "
        f"power reading: {gpu.get('power_averaging')}; idle {_fmt(env.get('idle_w'))} W; NVML {env['nvml']}",
        "",
        "| stage | device | precision | calls | mean ms | p50 ms | h2d ms | d2h ms | tokens/s | J/call | net J/call "
        "| integrated/counter | agreement with CPU fp32 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['stage']} | {r['device']} | {r['precision']} | {r['calls']} | {_fmt(r['mean_ms'])} | {_fmt(r['p50_ms'])} | "
            f"{_fmt(r['h2d_ms'], 3)} | {_fmt(r['d2h_ms'], 3)} | {_fmt(r['tokens_per_s'], 0)} | {_fmt(r['energy_j_per_call'], 4)} | "
            f"{_fmt(r['net_energy_j_per_call'], 4)} | {_fmt(r['counter_vs_integrated'], 3)} | {_fmt(r['agreement'], 4)} |"
        )
    lines += ["", *(f"- {line}" for line in result["skipped"])]
    return "\n".join(lines) + "\n"


def build_inputs(path: Path = INPUTS) -> Path:
    """A 1280x720 synthetic scene as det's input (shipped tuning), six word crops as a rec and a cls batch (float16)."""
    from harness.ocr.ppocr_tuning import TUNINGS, det_size, det_tensor, rec_tensor
    from harness.sources.synthetic import SceneOptions, generate_scene

    image, truth = generate_scene(SceneOptions(seed=11, n=1, width_px=1280, height_px=720, difficulty="medium"), 0)
    shipped = TUNINGS["shipped"]
    det = det_tensor(image, det_size(720, 1280, shipped), shipped.float32_preprocess)
    crops = []
    for word in [w for w in truth.words if not w.dont_care][:6]:
        xs, ys = [int(p[0]) for p in word.quad], [int(p[1]) for p in word.quad]
        crops.append(image[max(0, min(ys)) : max(ys), max(0, min(xs)) : max(xs)])
    rec, _ = rec_tensor(crops, shipped)
    cls = np.stack([rec_tensor([c], shipped.__class__(**{**shipped.__dict__, "rec_min_width": 192}))[0][0, :, :, :192] for c in crops])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, det=det.astype(np.float16), rec=rec.astype(np.float16), cls=cls.astype(np.float16))
    return path


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.devicecheck", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    made = sub.add_parser("inputs", help="write the check's inputs (needs the full install: OpenCV, the synthetic scenes)")
    made.add_argument("--out", type=Path, default=INPUTS)
    run = sub.add_parser("run", help="measure and write the results folder")
    run.add_argument("--out", type=Path, default=project_root() / "results/device-check")
    run.add_argument("--inputs", type=Path, default=INPUTS)
    run.add_argument("--seconds", type=float, default=5.0, help="measured seconds per stage, device and precision (default 5)")
    run.add_argument("--iterations", type=int, default=10, help="at least this many measured calls (default 10)")
    run.add_argument("--warmup", type=int, default=3, help="calls before measuring, not kept (default 3)")
    args = parser.parse_args(argv)
    try:
        if args.command == "inputs":
            print(f"device check inputs: {build_inputs(args.out)}")
        else:
            folder = run_check(args.out, args.seconds, args.iterations, args.warmup, args.inputs)
            print((folder / "table.md").read_text(encoding="utf-8"))
            print(f"device check: wrote {folder}")
    except ArbenchError as exc:
        print(f"device check: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
