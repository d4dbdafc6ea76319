"""Scenarios on a fake clock: camera pacing drops overtaken frames, flags missed deadlines, and the
summary derives latency, overlay age and drop counts from the records."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.run.experiment import RunSettings
from harness.run.scenarios import CameraPaced, Offline, SingleStream, make_scenario
from harness.store.schema import frame_record
from harness.store.summary import summarize
from harness.trace import Tracer
from harness.types import Frame, Span

MS = 1_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += round(seconds * 1e9)


def source(n: int = 1000):
    for i in range(n):
        yield Frame(i, 0, np.zeros((2, 2, 3), np.uint8), "fake", f"f{i}")


def drive(work_ms: list[int], fps: float = 10.0, deadline_ms: float = 0.0) -> list[dict]:
    """Run the paced loop as the runner does: wait, capture, work, annotate."""
    clock = FakeClock()
    paced = CameraPaced(fps, deadline_ms, clock=clock, sleep=clock.sleep)
    frames = paced.frames(source())
    records = []
    for seq, work in enumerate(work_ms):
        tracer = Tracer(clock=clock)
        paced.wait(tracer)
        with tracer.span("capture"):
            frame = next(frames)
        with tracer.span("ocr"):
            clock.now += work * MS
        record = frame_record("cfg", seq, False, tracer.spans, None)
        record["frame_id"] = frame.frame_id
        paced.annotate(record)
        records.append(record)
    return records


def test_slow_pipeline_drops_overtaken_frames_and_misses_deadlines() -> None:
    records = drive([250, 250, 250, 250])
    pacing = [r["pacing"] for r in records]
    assert [p["arrival_index"] for p in pacing] == [0, 2, 5, 7]
    assert [r["frame_id"] for r in records] == [0, 2, 5, 7]
    assert [p["dropped_before"] for p in pacing] == [0, 1, 2, 1]
    # Frame 2 arrived at 200 ms and was picked up at 250 ms: its latency includes the 50 ms it waited.
    assert [p["latency_ns"] // MS for p in pacing] == [250, 300, 250, 300]
    assert all(p["deadline_missed"] for p in pacing)


def test_fast_pipeline_waits_for_each_frame_and_meets_deadlines() -> None:
    records = drive([30] * 5)
    pacing = [r["pacing"] for r in records]
    assert [p["arrival_index"] for p in pacing] == [0, 1, 2, 3, 4]
    assert [p["dropped_before"] for p in pacing] == [0] * 5
    assert [p["latency_ns"] // MS for p in pacing] == [30] * 5
    assert not any(p["deadline_missed"] for p in pacing)
    waits = [s for r in records for s in r["spans"] if s["name"] == "wait"]
    assert [(w["end_ns"] - w["start_ns"]) // MS for w in waits] == [0, 70, 70, 70, 70]


def test_explicit_deadline() -> None:
    pacing = [r["pacing"] for r in drive([30, 60, 30], deadline_ms=50)]
    assert [p["deadline_missed"] for p in pacing] == [False, True, False]


def test_summary_of_a_paced_run() -> None:
    records = drive([250, 250, 250, 250])
    row = summarize(records, [{"config_id": "cfg", "status": "complete"}]).set_index("stage")
    assert row.loc["e2e", "frames_offered"] == 8  # arrivals 0..7
    assert row.loc["e2e", "frames_dropped"] == 4  # 1 + 2 + 1 after the first frame
    assert row.loc["e2e", "deadline_misses"] == 4
    assert row.loc["latency", "mean_ms"] == pytest.approx(275.0)
    # "wait" is a span of its own, so the harness gap does not include it.
    assert row.loc["harness", "mean_ms"] == pytest.approx(0.0)
    # Overlay of frame 0 (arrival 0) is ready at 250 ms and shown until frame 2's is ready at 500 ms:
    # arrivals at 300 and 400 ms see ages 300 and 400; then frame 2 (arrived 200) shown 500-750 ms:
    # arrivals 500, 600, 700 → ages 300, 400, 500; frame 5 (arrived 500) shown 750-1000: arrivals 800, 900 → 300, 400.
    ages = [300, 400, 300, 400, 500, 300, 400]
    assert row.loc["overlay_age", "n"] == len(ages)
    assert row.loc["overlay_age", "mean_ms"] == pytest.approx(np.mean(ages))


def test_throughput_counts_frames_over_wall_time() -> None:
    records = []
    for seq in range(5):
        start = seq * 100 * MS
        records.append(
            frame_record("cfg", seq, False, [Span("capture", start, start + MS), Span("ocr", start + MS, start + 50 * MS)], None)
        )
    row = summarize(records, [{"config_id": "cfg", "status": "complete"}]).set_index("stage")
    assert row.loc["e2e", "throughput_fps"] == pytest.approx(4 / 0.400)
    assert row.loc["e2e", "failed_frames"] == 0


def test_offline_prefetches_and_cycles() -> None:
    offline = Offline(prefetch=3)
    pulled = []

    def counting():
        for frame in source(10):
            pulled.append(frame.frame_id)
            yield frame

    frames = offline.frames(counting())
    assert pulled == [0, 1, 2]  # prefetched before the first frame is asked for
    taken = list(itertools.islice(frames, 7))
    assert [f.name for f in taken] == ["f0", "f1", "f2", "f0", "f1", "f2", "f0"]
    assert [f.frame_id for f in taken] == list(range(7))


def test_make_scenario() -> None:
    assert isinstance(make_scenario(RunSettings(), 0.0), SingleStream)
    assert isinstance(make_scenario(RunSettings(scenario="camera-paced"), 30.0), CameraPaced)
    assert make_scenario(RunSettings(scenario="camera-paced", source_fps=15.0), 30.0).period_ns == round(1e9 / 15)
    with pytest.raises(ConfigError, match="camera-paced needs a frame rate"):
        make_scenario(RunSettings(scenario="camera-paced"), 0.0)
    with pytest.raises(ConfigError, match="unknown value 'server'"):
        RunSettings(scenario="server")


def test_a_source_slower_than_the_frame_period_does_not_make_capture_chase_the_clock() -> None:
    clock = FakeClock()
    paced = CameraPaced(30.0, 0.0, clock=clock, sleep=clock.sleep)

    def slow_source():
        for i in range(10_000):
            clock.now += 40 * MS  # decoding one frame takes longer than a frame period
            yield Frame(i, 0, None, "slow", f"f{i}")

    frames = paced.frames(slow_source())
    for _ in range(3):
        tracer = Tracer(clock=clock)
        paced.wait(tracer)
        with tracer.span("capture"):
            next(frames)
        with tracer.span("ocr"):
            clock.now += 300 * MS
        capture = next(s for s in tracer.spans if s.name == "capture")
        assert capture.duration_ns == 40 * MS  # one frame decoded inside capture, never the overtaken ones
    assert paced.taken < 100


def test_camera_paced_refuses_live_cameras() -> None:
    with pytest.raises(ConfigError, match="a live camera paces itself"):
        make_scenario(RunSettings(scenario="camera-paced"), 30.0, live=True)
