"""The offload server's stage workers and the admission of requests to them.

Each worker has its own OCR and MT backends, so a backend never sees two calls at once. With
``isolation = "process"`` (the default) a worker is a process of its own: Python's pre- and post-processing
of one request does not wait on another's lock, and a worker that dies (a backend crashing, the OOM
killer) is replaced while the others go on. With ``"thread"`` the workers share this process.

Admission runs on the event loop only, so it needs no lock. A request takes a free worker when its
decoded pixels fit in what the server has left (``max_server_pixels`` less the pixels of the requests on
the workers), or waits in a first-come queue of at most ``max_queue``; when the queue is full, or the wait
it would face exceeds the client's deadline, it is refused at once (``Busy``: 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import time
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from harness.context import BackendContext
from harness.offload.split import split_ocr
from harness.offload.wire import decode_image
from harness.server.config import ServerConfig
from harness.store.spans import is_top
from harness.trace import Tracer
from harness.types import Frame

__all__ = ["Busy", "StageServer", "Stages", "WorkerDied"]

KINDS = ("frame", "crops", "text")  # what a request asks a worker for


class Busy(Exception):
    """No stage worker can take the request in time: the queue is full, or the client's deadline would pass."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class WorkerDied(Exception):
    """A worker process ended while it served the request; it has been replaced."""


class Stages:
    """One worker's OCR and MT backends and the stage code they run (one call at a time)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        context = BackendContext(threads=config.server.threads)
        self.ocr = config.ocr.create(context)
        self.mt = config.mt.create(context)

    def close(self) -> None:
        self.ocr.close()
        self.mt.close()

    def names(self) -> dict[str, str]:
        return {"ocr": self.ocr.name, "mt": self.mt.name}

    def serve(self, kind: str, payload: Any, submitted_ns: int) -> dict[str, Any]:
        """Answer one request; its spans as ``timings_ns``, their top-level sum as ``server_ns``, the wait as ``queue_ns``."""
        tracer = Tracer()
        started = tracer.clock()
        if kind == "frame":
            answer = self.frame(payload, tracer)
        elif kind == "crops":
            answer = self.crops(payload, tracer)
        else:
            answer = {"targets": self._translate(payload, tracer)}
        answer["timings_ns"] = {s.name: s.duration_ns for s in tracer.spans}
        answer["server_ns"] = sum(s.duration_ns for s in tracer.spans if is_top(s.name))
        answer["queue_ns"] = started - submitted_ns  # CLOCK_MONOTONIC: one clock for all processes
        return answer

    def frame(self, data: bytes, tracer: Tracer) -> dict[str, Any]:
        with tracer.span("decode"):
            image = decode_image(data, self.config.server.max_pixels)
        frame = Frame(frame_id=0, capture_ns=time.monotonic_ns(), image=image, source="offload")
        with tracer.span("ocr"):
            regions = self.ocr.recognize(frame, tracer)
        answer = {"regions": [{"quad": [list(p) for p in r.quad], "text": r.text, "confidence": r.confidence} for r in regions]}
        return answer | {"targets": self._translate([r.text for r in regions], tracer)}

    def crops(self, images: list[bytes], tracer: Tracer) -> dict[str, Any]:
        with tracer.span("decode"):
            crops = [decode_image(data, self.config.server.max_pixels) for data in images]
        with tracer.span("ocr"):
            read = split_ocr(self.ocr).read(crops, tracer)
        answer = {"regions": [{"index": i, "text": text, "confidence": conf} for i, text, conf in read]}
        return answer | {"targets": self._translate([text for _, text, _ in read], tracer)}

    def _translate(self, texts: list[str], tracer: Tracer) -> list[str]:
        if not texts:
            return []
        with tracer.span("mt"):
            targets = self.mt.translate(texts, tracer)
        if len(targets) != len(texts):
            raise ValueError(f"{self.mt.name} returned {len(targets)} translations for {len(texts)} texts")
        return targets


# A worker process's own backends, built by _start (its first task) and used by _serve.
_PROCESS_STAGES: list[Stages] = []


def _start(config: ServerConfig) -> tuple[int, dict[str, str]]:
    _PROCESS_STAGES.append(Stages(config))
    return os.getpid(), _PROCESS_STAGES[0].names()


def _serve(kind: str, payload: Any, submitted_ns: int) -> dict[str, Any]:
    return _PROCESS_STAGES[0].serve(kind, payload, submitted_ns)


@dataclass
class _Waiting:
    slot: asyncio.Future[int]
    pixels: int


class StageServer:
    """The stage workers, their queue and the server's pixel budget."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        options = config.server
        self.workers = options.worker_count()
        self.pixel_budget = options.server_pixels(self.workers)
        self.stages: list[Stages] = []  # thread workers' backends (empty with processes)
        self.pids: list[int] = []  # worker processes (empty with threads)
        self._pools: list[Executor] = []
        if options.isolation == "thread":
            self.stages = [Stages(config) for _ in range(self.workers)]
            self._pools = [ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="stages")]
            self.names = self.stages[0].names()
        else:
            try:
                for _ in range(self.workers):
                    pool, pid, self.names = self._spawn()
                    self._pools.append(pool)
                    self.pids.append(pid)
            except BaseException:
                self.close()
                raise
        self._free = list(range(self.workers))
        self._waiting: deque[_Waiting] = deque()
        self._pixels_in_use = 0
        self._service_s: float | None = None  # running mean of a request's time on a worker
        self.served = self.refused = self.restarted = 0

    def _spawn(self) -> tuple[ProcessPoolExecutor, int, dict[str, str]]:
        """A worker process with its backends built (a backend that cannot start raises here, as with threads)."""
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            pid, names = pool.submit(_start, self.config).result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return pool, pid, names

    def close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True)
        for stages in self.stages:
            stages.close()

    def load(self) -> dict[str, Any]:
        """Workers, queue, pixels and counts, for /v1/health."""
        mean_ms = None if self._service_s is None else 1e3 * self._service_s
        return {
            "workers": self.workers,
            "isolation": self.config.server.isolation,
            "pids": self.pids,
            "busy": self.workers - len(self._free),
            "queued": len(self._waiting),
            "max_queue": self.config.server.max_queue,
            "pixels_in_use": self._pixels_in_use,
            "max_server_pixels": self.pixel_budget,
            "served": self.served,
            "refused": self.refused,
            "restarted": self.restarted,
            "mean_service_ms": mean_ms,
        }

    def _expected_wait_s(self) -> float:
        return (self._service_s or 0.0) * (len(self._waiting) + 1) / self.workers

    def _refuse(self, reason: str) -> Busy:
        self.refused += 1
        return Busy(reason, max(1, math.ceil(self._expected_wait_s())))

    def _fits(self, pixels: int) -> bool:
        return bool(self._free) and self._pixels_in_use + pixels <= self.pixel_budget

    async def _take(self, pixels: int, deadline_s: float | None) -> int:
        if not self._waiting and self._fits(pixels):
            self._pixels_in_use += pixels
            return self._free.pop()
        if len(self._waiting) >= self.config.server.max_queue:
            busy = (
                f"all {self.workers} stage worker(s) busy"
                if not self._free
                else f"{self._pixels_in_use} of {self.pixel_budget} pixels in use"
            )
            raise self._refuse(f"{busy} and {len(self._waiting)} request(s) queued")
        if deadline_s is not None and self._expected_wait_s() > deadline_s:
            raise self._refuse(f"the expected wait ({self._expected_wait_s():.2f} s) exceeds the request's deadline ({deadline_s:.2f} s)")
        waiting = _Waiting(asyncio.get_running_loop().create_future(), pixels)
        self._waiting.append(waiting)
        try:
            return await waiting.slot
        except asyncio.CancelledError:  # the client went away while queued: pass on a worker it was given
            if waiting.slot.done() and not waiting.slot.cancelled():
                self._give(waiting.slot.result(), pixels)
            else:
                self._waiting.remove(waiting)
                self._admit()
            raise

    def _give(self, worker: int, pixels: int) -> None:
        self._free.append(worker)
        self._pixels_in_use -= pixels
        self._admit()

    def _admit(self) -> None:
        """Hand free workers to the queue's head while its pixels fit (first come, first served)."""
        while self._waiting and self._fits(self._waiting[0].pixels):
            waiting = self._waiting.popleft()
            if waiting.slot.done():
                continue
            self._pixels_in_use += waiting.pixels
            waiting.slot.set_result(self._free.pop())

    async def run(self, kind: str, payload: Any, pixels: int = 0, deadline_s: float | None = None) -> dict[str, Any]:
        """Serve one request (``kind``: frame, crops or text) on a stage worker.

        ``pixels``: what the request decodes (from its images' headers), held against the server's budget
        while it runs. ``deadline_s``: the seconds the client still waits (its ``X-Arbench-Deadline-Ms``); a
        request that would start later is refused (``Busy``).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}")
        submitted = time.monotonic_ns()
        worker = await self._take(pixels, deadline_s)
        try:
            if deadline_s is not None and (time.monotonic_ns() - submitted) / 1e9 > deadline_s:
                raise self._refuse("the request's deadline passed while it was queued")
            began = time.monotonic()
            answer = await self._call(worker, kind, payload, submitted)
            took = time.monotonic() - began
            self._service_s = took if self._service_s is None else 0.8 * self._service_s + 0.2 * took
            self.served += 1
            return answer
        finally:
            self._give(worker, pixels)

    async def _call(self, worker: int, kind: str, payload: Any, submitted: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if self.stages:
            return await loop.run_in_executor(self._pools[0], self.stages[worker].serve, kind, payload, submitted)
        try:
            return await asyncio.wrap_future(self._pools[worker].submit(_serve, kind, payload, submitted))
        except BrokenProcessPool:
            pid = self.pids[worker]
            self._pools[worker].shutdown(wait=False)
            self._pools[worker], self.pids[worker], _ = await loop.run_in_executor(None, self._spawn)
            self.restarted += 1
            raise WorkerDied(f"stage worker process {pid} died while serving this request; a new one took its place") from None
