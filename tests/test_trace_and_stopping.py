"""Spans on an injected clock, and the stopping rule (min frames AND min duration, with caps)."""

from __future__ import annotations

import itertools

import pytest

from harness.run.experiment import RunSettings
from harness.run.progress import eta_s
from harness.run.stopping import stop_reason, validity
from harness.trace import Tracer


class Listener:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []

    def span_started(self, name: str, t_ns: int) -> None:
        self.events.append(("start", name, t_ns))

    def span_ended(self, name: str, t_ns: int) -> None:
        self.events.append(("end", name, t_ns))


def test_spans_take_edges_from_the_clock_and_nest() -> None:
    ticks = itertools.count(100, 10)
    listener = Listener()
    tracer = Tracer(clock=lambda: next(ticks), listeners=[listener])
    with tracer.span("ocr") as attrs:
        with tracer.span("ocr.det"):
            pass
        attrs["regions"] = 2
    assert [(s.name, s.start_ns, s.end_ns) for s in tracer.spans] == [("ocr.det", 110, 120), ("ocr", 100, 130)]
    assert tracer.spans[1].attrs == {"regions": 2}
    assert tracer.spans[1].duration_ns == 30
    assert listener.events == [("start", "ocr", 100), ("start", "ocr.det", 110), ("end", "ocr.det", 120), ("end", "ocr", 130)]


def test_span_is_recorded_when_the_body_raises() -> None:
    tracer = Tracer()
    with pytest.raises(RuntimeError), tracer.span("mt"):
        raise RuntimeError("boom")
    assert [s.name for s in tracer.spans] == ["mt"]


def test_reopening_an_open_span_is_an_error() -> None:
    tracer = Tracer()
    with tracer.span("mt"), pytest.raises(ValueError, match="already open"), tracer.span("mt"):
        pass


SETTINGS = RunSettings(warmup_frames=0, min_frames=10, min_duration_s=2.0, max_frames=100, max_duration_s=30.0)


@pytest.mark.parametrize(
    ("measured", "elapsed", "expected"),
    [
        (5, 1.0, None),
        (10, 1.0, None),  # frames met, duration not
        (5, 3.0, None),  # duration met, frames not
        (10, 2.0, "minimums_met"),
        (100, 0.5, "max_frames"),
        (3, 30.0, "max_duration_s"),
    ],
)
def test_stop_rule(measured: int, elapsed: float, expected: str | None) -> None:
    assert stop_reason(SETTINGS, measured, elapsed) == expected


def test_validity_reports_missed_minimums() -> None:
    assert validity(SETTINGS, 3, 30.0, "max_duration_s") == {"min_frames_met": False, "min_duration_met": True}


def test_all_frames_ignores_minimums_and_requires_the_whole_source() -> None:
    settings = RunSettings(min_frames=10, min_duration_s=2.0, all_frames=True)
    assert stop_reason(settings, 50, 5.0) is None
    assert stop_reason(settings, settings.max_frames, 5.0) == "max_frames"
    assert validity(settings, 50, 5.0, "source_exhausted") == {"all_frames_measured": True}
    assert validity(settings, 50, 5.0, "max_duration_s") == {"all_frames_measured": False}


def test_eta_follows_the_binding_minimum() -> None:
    # 0.1 s per frame: 10 frames take 1 s, but 2 s are required → 1 s left after 10 frames.
    assert eta_s(SETTINGS, 10, 1.0, 0) == pytest.approx(1.0)
    # 1 s per frame: 10 frames take 10 s; after 2 frames, 8 s left.
    assert eta_s(SETTINGS, 2, 2.0, 0) == pytest.approx(8.0)
