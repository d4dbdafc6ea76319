"""Shared by the energy tests: one timed span attributed by a meter, and the true energy of a power trace over it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.energy.meter import EnergyMeter
from harness.trace import Tracer


def one_span(meter: EnergyMeter, seconds: float) -> tuple[Any, dict[str, Any]]:
    """Time a span named "ocr" of ``seconds`` with the meter's listeners; (the span, its energy) once samples pass it."""
    tracer = Tracer(listeners=meter.listeners)
    with tracer.span("ocr"):
        time.sleep(seconds)
    [span] = tracer.spans
    meter.wait_ready(span.end_ns)
    return span, meter.frame_energy(tracer.spans)["ocr"]


def true_joules(watts: Callable[[float], float], span: Any) -> float:
    """The energy of ``watts(t_s)`` over the span, by a fine grid (20001 points)."""
    grid = np.linspace(span.start_ns / 1e9, span.end_ns / 1e9, 20001)
    return float(np.mean([watts(t) for t in grid])) * (span.end_ns - span.start_ns) / 1e9
