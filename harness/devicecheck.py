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
import json
import math
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.energy.base import SensorError
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
GPU = "gpu0"  # NVML's first GPU: torch's cuda:0 unless CUDA_VISIBLE_DEVICES reorders them
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
    samples_ms: list[float] = field(default_factory=list)


class Gpu:
    """GPU 0 through arbench's NVML sensors: its state, the energy counter (J) and sampled power; ``reason`` says why not.

    The readers are ``harness.energy.nvml``'s; power samples run on the energy meter's ``Sampler`` thread
    into a ``PowerSeries``, whose trapezoid integral is the counter's check.
    """

    def __init__(self) -> None:
        from harness.energy import nvml
        from harness.energy.sampler import Sampler, Task
        from harness.energy.series import PowerSeries

        found = nvml.probe()
        self.sensors = found.sensors
        self.reason = "" if found.found else f"NVML unavailable: {found.reason}"
        self.counter = next((s for s in self.sensors if s.kind == "counter"), None)  # Volta and newer
        power = next((s for s in self.sensors if s.kind == "power"), None)
        self.state: dict[str, Any] = power.gpus.get(GPU, {}) if power is not None else {}
        self.idle_w: float | None = None
        self.power: PowerSeries | None = None
        self._sampler: Sampler | None = None
        if power is not None:
            series = self.power = PowerSeries(1, max_gap_ns=int(4 * POWER_PERIOD_S * 1e9))
            self._sampler = Sampler([Task("nvml-power", POWER_PERIOD_S, lambda: series.append(time.monotonic_ns(), _watts(power)))])
            self._sampler.start()

    @property
    def present(self) -> bool:
        return bool(self.sensors)

    def counter_j(self) -> float | None:
        """GPU 0's energy counter (J), None before Volta or when the read fails."""
        if self.counter is None:
            return None
        try:
            return float(self.counter.read()[GPU])
        except (SensorError, KeyError):
            return None

    def integrated_j(self, start_ns: int, end_ns: int) -> float | None:
        """Sampled power integrated over [start, end] (J), None without samples around it."""
        if self.power is None:
            return None
        deadline = time.monotonic() + 5 * POWER_PERIOD_S
        while self.power.last_ns < end_ns and time.monotonic() < deadline:  # the sample after the window's end
            time.sleep(POWER_PERIOD_S / 4)
        window = self.power.integrate(start_ns, end_ns)
        return window.joules[0] if window is not None else None

    def measure_idle(self, seconds: float) -> None:
        start, t0 = self.counter_j(), time.monotonic_ns()
        time.sleep(seconds)
        end, t1 = self.counter_j(), time.monotonic_ns()
        joules = end - start if start is not None and end is not None else self.integrated_j(t0, t1)
        self.idle_w = None if joules is None else joules / ((t1 - t0) / 1e9)

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.stop()
        for sensor in self.sensors:
            sensor.close()


def _watts(sensor: Any) -> tuple[float, ...] | None:
    try:
        return (float(sensor.read()[GPU]),)
    except (SensorError, KeyError):
        return None  # a failed read: the window around it is unknown, not estimated


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
    integrated = gpu.integrated_j(t0, t1)
    if integrated is not None:
        row.integrated_j_per_call = integrated / row.calls
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
        outputs = session(batch)  # for the agreement, and the first warm-up call
        for _ in range(warmup - 1):
            session(batch)
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
    translate_ns: list[int] = []

    def call() -> float:
        tracer = Tracer()
        outputs.append(backend.translate([phrases[len(outputs) % len(phrases)]], tracer)[0])
        span = next(s for s in tracer.spans if s.name == "mt.translate")
        tokens.append(sum(span.attrs["tokens_out"]))
        translate_ns.append(span.duration_ns)
        return sum(s.duration_ns for s in tracer.spans) / 1e6

    _block(call, seconds, max(iterations, len(phrases)), gpu, row)
    row.tokens_per_s = float(sum(tokens) / (sum(translate_ns) / 1e9))  # as summary.csv's mt_tokens_out_per_s: decoding time only
    first = outputs[: len(phrases)]
    reference.setdefault("mt", first)
    row.agreement = float(np.mean([a == b for a, b in zip(first, reference["mt"], strict=True)]))
    return row


def _environment(torch: Any, gpu: Gpu) -> dict[str, Any]:
    cuda = bool(torch.cuda.is_available())
    name = torch.cuda.get_device_name(0) if cuda else None
    from harness.system.board import detect_device

    kind = detect_device()
    roles = {"jetson": "jetson (edge device)", "jetson-nano": "jetson (edge device)",
             "gpu-server": "data-centre or desktop GPU: the cloud side of offload, not an edge device"}  # fmt: skip
    role = roles.get(kind, f"{kind} with a CUDA GPU" if cuda else "CPU only")
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
        "device_profile": kind,
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
    if gpu.present:
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
        meter = gpu if device == "cuda" and gpu.present else None
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
