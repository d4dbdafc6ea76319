"""Reading a keyframe (OCR, then MT of what is not reused), inline or on a background thread.

``read_keyframe`` is the work; ``Worker`` runs it on one daemon thread, one keyframe at a time, with its
own ``Tracer`` so its spans keep their real edges on the monotonic clock. The AR pipeline stores them on
the record of the frame where the result was first shown, renamed ``bg.ocr``, ``bg.mt``, ... (dotted
names, so they are not top-level stages of that frame and its latency does not include them). A failure
inside the worker travels back with the result and fails that frame, never silently.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.ar.reuse import KnownRegion, Reuse, ReuseStats
from harness.mt.base import MtBackend
from harness.ocr.base import OcrBackend
from harness.trace import Tracer
from harness.types import Frame, Span, TextRegion

__all__ = ["Keyframe", "Worker", "read_keyframe"]


@dataclass
class Keyframe:
    """A keyframe's reading: regions in the keyframe's coordinates, their targets and where they came from."""

    frame: Frame
    known: Sequence[KnownRegion]
    regions: list[TextRegion] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    track_ids: list[int | None] = field(default_factory=list)
    stats: ReuseStats | None = None
    spans: list[Span] = field(default_factory=list)
    error: tuple[str, BaseException] | None = None  # (stage, exception)

    @property
    def cost_ns(self) -> int:
        """OCR + MT time of this keyframe."""
        return sum(s.duration_ns for s in self.spans if s.name in ("ocr", "mt"))


def read_keyframe(job: Keyframe, ocr: OcrBackend, mt: MtBackend, reuse: Reuse, tracer: Tracer, use_mt: bool = True) -> Keyframe:
    """Run OCR and MT on ``job.frame``; exceptions are stored on the job with their stage."""
    stage, first = "ocr", len(tracer.spans)
    try:
        with tracer.span("ocr"):
            job.regions = ocr.recognize(job.frame, tracer)
        stage = "mt"
        if use_mt and job.regions:
            with tracer.span("mt") as attrs:
                job.targets, job.track_ids, job.stats = reuse.translate(job.regions, job.known, lambda texts: _call_mt(mt, texts))
                attrs.update(job.stats.attrs())
        else:
            job.targets, job.track_ids = [r.text for r in job.regions], [None] * len(job.regions)
    except Exception as exc:  # noqa: BLE001 - not swallowed: carried back to the pipeline, which fails the frame with it
        job.error = (stage, exc)
    job.spans = tracer.spans[first:]
    return job


def _call_mt(mt: MtBackend, texts: list[str]) -> list[str]:
    targets = mt.translate(texts)
    if len(targets) != len(texts):
        raise ValueError(f"{mt.name} returned {len(targets)} translations for {len(texts)} regions")
    return targets


class Worker:
    """One background thread reading one keyframe at a time."""

    def __init__(self, ocr: OcrBackend, mt: MtBackend, reuse: Reuse, use_mt: bool = True, nice: int = 0) -> None:
        self._args = (ocr, mt, reuse)
        self._use_mt = use_mt
        self._nice = nice
        self.niced: bool | None = None  # whether the thread's priority was lowered (None: not asked)
        self._jobs: queue.Queue[Keyframe | None] = queue.Queue(maxsize=1)
        self._done: queue.Queue[Keyframe] = queue.Queue()
        self.busy = False
        self._thread = threading.Thread(target=self._run, name="arbench-keyframes", daemon=True)
        self._thread.start()

    def submit(self, job: Keyframe) -> None:
        """Start reading ``job``; the worker must be idle."""
        if self.busy:
            raise RuntimeError("the keyframe worker is busy; poll() its result first")
        self.busy = True
        self._jobs.put(job)

    def poll(self, block: bool = False) -> Keyframe | None:
        """The finished keyframe, once; None while it is still being read (or when none was submitted)."""
        if not self.busy:
            return None
        try:
            job = self._done.get(block=block)
        except queue.Empty:
            return None
        self.busy = False
        return job

    def _run(self) -> None:
        if self._nice:
            try:  # Linux: a thread's niceness is its own; elsewhere this lowers the whole process, so skip
                if sys.platform == "linux":
                    tid = threading.get_native_id()
                    os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self._nice)
                self.niced = sys.platform == "linux"
            except OSError:
                self.niced = False
        while (job := self._jobs.get()) is not None:
            self._done.put(read_keyframe(job, *self._args, Tracer(), self._use_mt))

    def close(self) -> None:
        """Finish the keyframe in hand and stop the thread."""
        self._jobs.put(None)
        self._thread.join(timeout=120)
