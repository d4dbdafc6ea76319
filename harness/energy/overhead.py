"""Benchmark (not a test): what the energy sampler costs, at 10, 100 and 1000 Hz.

    python -m harness.energy.overhead [--seconds 4] [--repeats 2] [--out results/energy-overhead]

A frame-like workload (NumPy plus Python bookkeeping, a few ms) runs in the main thread with spans, while a
sampler reads a fake Jetson Orin NX INA3221 tree (three rails, six sysfs files per sample): the C thread
(harness.energy.native, the default where it is built) and the Python sampler thread; separately, a fake
RAPL tree is read at every span edge. Another set of rows samples a replay sensor that reads no file in the
Python thread: the cost of waking it and storing a sample, the floor under any Python sampler on this
machine (a virtual machine's timer wake-ups are dearer than bare metal's). Reported per rate: the sampling
threads' CPU time over wall time (share of one core), the median frame time against no sampler, and the
attribution cost per frame (which includes moving the C thread's samples into Python). Files on a fake
tree are read from the page cache; a real sysfs read goes through the driver (an I2C transfer on an
INA3221), which can cost more. Output: a JSON file under --out (results/ is not in git) and a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.energy.base import Probe
from harness.energy.meter import EnergyMeter
from harness.energy.writer import EnergyWriter
from harness.store.schema import span_record
from harness.testing import build_fake_jetson_hwmon_tree, build_fake_rapl_tree, replay_power
from harness.trace import Tracer

__all__ = ["main"]

RATES = (0.0, 10.0, 100.0, 1000.0)


class _Discard:
    def write(self, record: Any) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Settings:
    sensors: tuple[str, ...]
    root: str
    sample_hz: float
    enabled: bool = True
    idle_s: float = 0.0
    telemetry_hz: float = 0.0
    native_sampler: bool = True


def _frame(tracer: Tracer, matrix: np.ndarray) -> None:
    """About 3 ms of work that holds the GIL most of the time, as Python-heavy pipelines do."""
    with tracer.span("capture"):
        image = matrix * 1.0001
    with tracer.span("ocr"):
        for _ in range(3):
            image = np.tanh(image * 0.5 + 0.1)
        boxes = [(i % 97) * 0.5 for i in range(20000)]
    with tracer.span("mt"):
        words = [f"w{i % 311}" for i in range(12000)]
        " ".join(sorted(words, key=len))
    with tracer.span("overlay"):
        float(image.sum()) + sum(boxes)


def _measure(sensors: tuple[str, ...], root: Path, hz: float, seconds: float, native: bool) -> dict[str, Any]:
    matrix = np.random.default_rng(0).standard_normal((64, 64))
    settings = _Settings(sensors if hz else (), str(root), hz, native_sampler=native)
    replay = sensors == ("replay",) and hz
    meter = EnergyMeter(settings, [Probe("replay", [replay_power(lambda t: 5.0, hz=hz)])] if replay else None)
    writer = EnergyWriter(_Discard(), meter)  # the runner's path: records wait for the samples, then get energy
    meter.start()
    frames, attribution = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tracer = Tracer(listeners=meter.listeners)
        started = time.perf_counter()
        _frame(tracer, matrix)
        frames.append(time.perf_counter() - started)
        before = time.perf_counter()
        writer.write({"spans": [span_record(s) for s in tracer.spans]})
        attribution.append(time.perf_counter() - before)
    writer.close()
    meter.stop()
    wall = meter.sampling_wall_s
    return {
        "hz": hz,
        "frames": len(frames),
        "frame_ms_mean": statistics.fmean(frames) * 1e3,
        "frame_ms_median": statistics.median(frames) * 1e3,
        "frame_ms_min": min(frames) * 1e3,
        "sampler_core_share": meter.sampling_cpu_s / wall if wall else 0.0,
        "sampler": meter.power[0].sampler.split(":")[0] if meter.power else "",  # "C thread" or "Python thread"
        "samples": sum(len(p.series) for p in meter.power),
        "wall_s": wall,
        "attribution_ms_per_frame": statistics.fmean(attribution) * 1e3 if attribution else 0.0,
        "errors": meter.errors,
    }


def _rows(
    sensors: tuple[str, ...], root: Path, seconds: float, repeats: int, rates: tuple[float, ...] = RATES, native: bool = True
) -> list[dict[str, Any]]:
    runs: dict[float, list[dict[str, Any]]] = {hz: [] for hz in rates}
    for _ in range(repeats):  # interleaved, so drift hits every rate alike
        for hz in rates:
            runs[hz].append(_measure(sensors, root, hz, seconds, native))
    base = statistics.median(r["frame_ms_median"] for r in runs[0.0])
    rows = []
    for hz, results in runs.items():
        frame = statistics.median(r["frame_ms_median"] for r in results)
        rows.append({
            "sensors": ",".join(sensors) if hz else "none",
            "sampler": results[0]["sampler"] if hz else "",
            "hz": hz,
            "frames": sum(r["frames"] for r in results),
            "frame_ms_median": round(frame, 4),
            "frame_ms_min": round(min(r["frame_ms_min"] for r in results), 4),
            "frame_time_change_pct": round((frame / base - 1) * 100, 2),
            "sampler_core_share_pct": round(statistics.fmean(r["sampler_core_share"] for r in results) * 100, 3),
            "samples": sum(r["samples"] for r in results),
            "achieved_hz": round(sum(r["samples"] for r in results) / sum(r["wall_s"] for r in results), 1) if hz else 0.0,
            "attribution_ms_per_frame": round(statistics.fmean(r["attribution_ms_per_frame"] for r in results), 4),
            "errors": sum(r["errors"] for r in results),
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; the JSON goes under --out."""
    parser = argparse.ArgumentParser(prog="python -m harness.energy.overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per rate and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="results/energy-overhead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        jetson, laptop = Path(tmp, "jetson"), Path(tmp, "laptop")
        build_fake_jetson_hwmon_tree(jetson)
        build_fake_rapl_tree(laptop, energy_mode=0o444)
        rows = _rows(("ina3221",), jetson, args.seconds, args.repeats)  # the C thread, where built
        rows += [r for r in _rows(("ina3221",), jetson, args.seconds, args.repeats, native=False) if r["hz"]]
        rows += [r for r in _rows(("replay",), jetson, args.seconds, args.repeats) if r["hz"]]  # no file: the Python floor
        rapl = _rows(("rapl",), laptop, args.seconds, args.repeats, rates=(0.0, 1.0))  # counters: read at span edges, any rate
        rows.append({**rapl[1], "hz": 0.0, "note": "counter read at every span edge; the sampler only polls for wraps (1 s)"})
    header = f"{'sensors':9} {'sampler':14} {'Hz':>6} {'got Hz':>7} {'frames':>7} {'median ms':>9} {'min ms':>7} {'Δ median %':>10}"
    print(f"{header} {'core %':>7} {'attrib ms':>9}")
    for r in rows:
        print(
            f"{r['sensors']:9} {r['sampler'][:14]:14} {r['hz']:6.0f} {r['achieved_hz']:7.1f} {r['frames']:7d} "
            f"{r['frame_ms_median']:9.3f} {r['frame_ms_min']:7.3f} "
            f"{r['frame_time_change_pct']:10.2f} "
            f"{r['sampler_core_share_pct']:7.3f} {r['attribution_ms_per_frame']:9.4f}"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / time.strftime("%Y%m%dT%H%M%SZ.json", time.gmtime())
    machine = {"python": platform.python_version(), "machine": platform.machine(), "processor": platform.processor()}
    path.write_text(json.dumps({"machine": machine, "seconds": args.seconds, "repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
