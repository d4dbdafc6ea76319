"""How frames reach the pipeline: the load scenario of a run.

- ``single-stream``: the next frame is captured when the last one is done (latency; MLPerf's
  SingleStream).
- ``camera-paced``: frames arrive at the source's frame rate whatever the pipeline does, like a camera
  with a one-frame buffer that keeps only the newest frame. A frame that arrives while the pipeline is
  busy and is overtaken by a newer one is dropped. Each processed frame records when it arrived, how many
  frames were dropped before it, and whether its overlay was ready within the deadline (by default one
  frame interval); the summary derives capture-to-overlay latency and the age of the overlay on show.
- ``offline``: all frames are in memory before measurement starts and are processed back to back
  (throughput; capture is not part of the measured work).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from harness.errors import ConfigError
from harness.run.experiment import SCENARIOS, RunSettings
from harness.store.spans import WAIT, stage_spans
from harness.trace import Tracer
from harness.types import Frame

__all__ = ["SCENARIOS", "CameraPaced", "Offline", "Scenario", "SingleStream", "make_scenario"]


class Scenario(Protocol):
    """Feeds frames to the pipeline and annotates each frame record with what the scenario knows."""

    def frames(self, source: Iterator[Frame]) -> Iterator[Frame]:
        """The frames the pipeline will see, drawn from the source's iterator."""
        ...

    def wait(self, tracer: Tracer) -> None:
        """Block until the next frame is due; a paced scenario records the wait as a "wait" span."""
        ...

    def annotate(self, record: dict[str, Any]) -> None:
        """Add scenario fields to the record of the frame just processed."""
        ...


class SingleStream:
    """Next frame as soon as the last is done."""

    def frames(self, source: Iterator[Frame]) -> Iterator[Frame]:
        return source

    def wait(self, tracer: Tracer) -> None:
        pass

    def annotate(self, record: dict[str, Any]) -> None:
        pass


class Offline:
    """Frames prefetched into memory (up to ``prefetch`` distinct ones, cycled) before measurement."""

    def __init__(self, prefetch: int) -> None:
        self.prefetch = prefetch

    def frames(self, source: Iterator[Frame]) -> Iterator[Frame]:
        cached = list(itertools.islice(source, self.prefetch))
        return (_renumbered(frame, number) for number, frame in enumerate(itertools.cycle(cached) if cached else []))

    def wait(self, tracer: Tracer) -> None:
        pass

    def annotate(self, record: dict[str, Any]) -> None:
        pass


def _renumbered(frame: Frame, number: int) -> Frame:
    return Frame(number, time.monotonic_ns(), frame.image, frame.source, frame.name, frame.ground_truth, frame.text)


class CameraPaced:
    """Frames arrive every ``1/fps`` s from the first request on; the newest arrived frame is processed.

    For recorded sources (files, rendered videos): overtaken frames are drawn from the source and
    discarded inside the "wait" span, never inside "capture", and the target frame is fixed when the
    wait ends, so a slow source cannot make capture chase the clock.
    """

    def __init__(
        self, fps: float, deadline_ms: float, clock: Callable[[], int] = time.monotonic_ns, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.period_ns = round(1e9 / fps)
        self.deadline_ns = round(deadline_ms * 1e6) if deadline_ms > 0 else self.period_ns
        self.clock = clock
        self.sleep = sleep
        self.start_ns: int | None = None
        self.taken = -1  # arrival index of the last frame handed out
        self.dropped_before = 0
        self._source: Iterator[Frame] = iter(())
        self._target = 0

    def frames(self, source: Iterator[Frame]) -> Iterator[Frame]:
        self._source = source
        return self._deliver()

    def _deliver(self) -> Iterator[Frame]:
        for frame in self._source:
            assert self.start_ns is not None, "wait() comes before every frame"
            self.taken = self._target
            frame.capture_ns = self.start_ns + self.taken * self.period_ns  # when the camera delivered it
            yield frame

    def wait(self, tracer: Tracer) -> None:
        now = self.clock()
        if self.start_ns is None:
            self.start_ns = now
        due = self.start_ns + (self.taken + 1) * self.period_ns
        with tracer.span(WAIT):
            if now < due:
                self.sleep((due - now) / 1e9)
            self._target = max(self.taken + 1, (self.clock() - self.start_ns) // self.period_ns)
            self.dropped_before = self._target - self.taken - 1
            for _ in range(self.dropped_before):  # overtaken while the pipeline was busy
                next(self._source, None)

    def annotate(self, record: dict[str, Any]) -> None:
        assert self.start_ns is not None
        arrival = self.start_ns + self.taken * self.period_ns
        done = max((s["end_ns"] for s in stage_spans(record["spans"])), default=arrival)
        record["pacing"] = {
            "arrival_index": self.taken,
            "arrival_ns": arrival,
            "period_ns": self.period_ns,
            "dropped_before": self.dropped_before,
            "latency_ns": done - arrival,
            "deadline_missed": done - arrival > self.deadline_ns,
        }


def make_scenario(settings: RunSettings, source_fps: float, live: bool = False) -> Scenario:
    """The scenario the run settings ask for; ``source_fps`` is the source's own rate (0 if unknown)."""
    if settings.scenario == "single-stream":
        return SingleStream()
    if settings.scenario == "offline":
        return Offline(settings.offline_prefetch_frames)
    if live:
        raise ConfigError("camera-paced replays recorded frames at a camera's rate; a live camera paces itself: use single-stream")
    fps = settings.source_fps or source_fps
    if fps <= 0:
        raise ConfigError("camera-paced needs a frame rate: set [run] source_fps, or use a source that has one (video, camera)")
    return CameraPaced(fps, settings.deadline_ms)
