"""`arbench serve`: the stages as an HTTP service (aiohttp), one endpoint per partition point.

- ``GET  /v1/health``: status, the backends loaded, and the load: workers, busy, queued, served, refused.
- ``POST /v1/frame``: a JPEG, PNG or WebP frame → OCR (det, cls, rec) and MT on the server.
- ``POST /v1/crops``: multipart/form-data of text crops (parts named "crop") → recognition and MT.
- ``POST /v1/text``: JSON ``{"texts": [...]}`` → MT.

Answers are JSON: ``regions`` (quad, text, confidence; crop answers give the crop ``index`` instead of a
quad), ``targets``, ``timings_ns`` (server-side spans, same names as on the device), ``server_ns`` (their
top-level sum: the server's compute) and ``queue_ns`` (waiting for a stage worker). The stage code is the
device's: backends are built through harness.registry; each of ``[server] workers`` threads has its own
backends, so a backend never sees two calls at once. At most ``max_queue`` requests wait for a worker;
beyond that, or when the wait would pass the client's ``X-Arbench-Deadline-Ms``, the answer is 503 at
once with ``Retry-After`` (seconds). Errors are JSON ``{"error": reason}`` with a 4xx for bad input (400
malformed, 401 no or wrong token, 411 no length, 413 too large, 415 wrong type), 503 when busy and 500
when a stage raised. Input is JSON or an image, nothing else is ever decoded.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness import __version__
from harness.context import BackendContext
from harness.errors import BackendUnavailable, UserError
from harness.offload.split import split_ocr
from harness.offload.wire import CONTENT_TYPES, WireError, decode_image, image_size
from harness.server.config import ServerConfig
from harness.store.spans import is_top
from harness.trace import Tracer
from harness.types import Frame

__all__ = ["DEADLINE_HEADER", "Busy", "StageServer", "Stages", "make_app", "serve"]

Handler = Callable[[Any], Awaitable[Any]]


def _web() -> Any:
    try:
        from aiohttp import web
    except ImportError:
        raise BackendUnavailable("`arbench serve` needs aiohttp: pip install -e '.[offload]'") from None
    return web


class Busy(Exception):
    """No stage worker can take the request in time: the queue is full, or the client's deadline would pass."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class Stages:
    """One worker's OCR and MT backends and the stage code they run (one call at a time)."""

    def __init__(self, config: ServerConfig, context: BackendContext) -> None:
        self.config = config
        self.ocr = config.ocr.create(context)
        self.mt = config.mt.create(context)

    def close(self) -> None:
        self.ocr.close()
        self.mt.close()

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
            budget = self.config.server.max_request_pixels
            total = sum(width * height for width, height in (image_size(data) for data in images))
            if total > budget:
                raise WireError(f"{len(images)} crops of {total} pixels in all; the server decodes at most {budget} pixels per request")
            crops = [decode_image(data, self.config.server.max_pixels) for data in images]
        with tracer.span("ocr"):
            read = split_ocr(self.ocr).read(crops, tracer)
        answer = {"regions": [{"index": i, "text": text, "confidence": conf} for i, text, conf in read]}
        return answer | {"targets": self._translate([text for _, text, _ in read], tracer)}

    def text(self, texts: list[str], tracer: Tracer) -> dict[str, Any]:
        return {"targets": self._translate(texts, tracer)}

    def _translate(self, texts: list[str], tracer: Tracer) -> list[str]:
        if not texts:
            return []
        with tracer.span("mt"):
            targets = self.mt.translate(texts, tracer)
        if len(targets) != len(texts):
            raise ValueError(f"{self.mt.name} returned {len(targets)} translations for {len(texts)} texts")
        return targets


class StageServer:
    """The stage workers (each with its own backends, in a thread pool) and the admission of requests to them.

    A request takes a free worker, or waits in a queue of at most ``max_queue``; when the queue is full,
    or the wait it would face (the mean service time so far times the requests ahead, over the workers)
    exceeds the client's deadline, it is refused at once with 503 and a ``Retry-After``. Admission runs on
    the event loop only, so it needs no lock.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        context = BackendContext(threads=config.server.threads)
        self.workers = config.server.worker_count()
        self.stages = [Stages(config, context) for _ in range(self.workers)]
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="stages")
        self._free = list(range(self.workers))
        self._waiting: deque[asyncio.Future[int]] = deque()
        self._service_s: float | None = None  # running mean of a request's time on a worker
        self.served = self.refused = 0

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for stages in self.stages:
            stages.close()

    def load(self) -> dict[str, Any]:
        """Workers, queue and counts, for /v1/health."""
        mean_ms = None if self._service_s is None else 1e3 * self._service_s
        return {
            "workers": self.workers,
            "busy": self.workers - len(self._free),
            "queued": len(self._waiting),
            "max_queue": self.config.server.max_queue,
            "served": self.served,
            "refused": self.refused,
            "mean_service_ms": mean_ms,
        }

    def _expected_wait_s(self) -> float:
        return (self._service_s or 0.0) * (len(self._waiting) + 1) / self.workers

    def _refuse(self, reason: str) -> Busy:
        self.refused += 1
        return Busy(reason, max(1, math.ceil(self._expected_wait_s())))

    async def _take(self, deadline_s: float | None) -> int:
        if self._free:
            return self._free.pop()
        if len(self._waiting) >= self.config.server.max_queue:
            raise self._refuse(f"all {self.workers} stage worker(s) busy and {len(self._waiting)} request(s) queued")
        if deadline_s is not None and self._expected_wait_s() > deadline_s:
            raise self._refuse(f"the expected wait ({self._expected_wait_s():.2f} s) exceeds the request's deadline ({deadline_s:.2f} s)")
        slot: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            return await slot
        except asyncio.CancelledError:  # the client went away while queued: pass on a worker it was given
            if slot.done() and not slot.cancelled():
                self._give(slot.result())
            else:
                self._waiting.remove(slot)
            raise

    def _give(self, worker: int) -> None:
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(worker)
                return
        self._free.append(worker)

    async def run(self, work: Callable[[Stages, Tracer], dict[str, Any]], deadline_s: float | None = None) -> dict[str, Any]:
        """Run ``work`` on a stage worker; add its spans as ``timings_ns``, ``server_ns`` and ``queue_ns``.

        ``deadline_s``: the seconds the client still waits (its ``X-Arbench-Deadline-Ms``); a request that
        would start later is refused (``Busy``).
        """
        submitted = time.monotonic_ns()
        worker = await self._take(deadline_s)
        try:
            if deadline_s is not None and (time.monotonic_ns() - submitted) / 1e9 > deadline_s:
                raise self._refuse("the request's deadline passed while it was queued")

            def timed() -> dict[str, Any]:
                tracer = Tracer()
                started = tracer.clock()
                answer = work(self.stages[worker], tracer)
                answer["timings_ns"] = {s.name: s.duration_ns for s in tracer.spans}
                answer["server_ns"] = sum(s.duration_ns for s in tracer.spans if is_top(s.name))
                answer["queue_ns"] = started - submitted
                return answer

            began = time.monotonic()
            answer = await asyncio.get_running_loop().run_in_executor(self._pool, timed)
            took = time.monotonic() - began
            self._service_s = took if self._service_s is None else 0.8 * self._service_s + 0.2 * took
            self.served += 1
            return answer
        finally:
            self._give(worker)


def _error(status: int, reason: str) -> Any:
    return _web().json_response({"error": reason}, status=status)


def make_app(server: StageServer, token: str | None) -> Any:
    """The aiohttp application: routes, the bearer-token check and the upload cap."""
    web = _web()
    limits = server.config.server

    @web.middleware
    async def guard(request: Any, handler: Handler) -> Any:
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")  # bytes: any header compares
        if token is not None and not hmac.compare_digest(given, f"Bearer {token}".encode()):
            response = _error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        try:
            return await handler(request)
        except WireError as exc:
            return _error(400, str(exc))
        except Busy as exc:
            response = _error(503, str(exc))
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, exc.text or exc.reason)
        except Exception as exc:  # noqa: BLE001 - a stage raised: the client records a failed frame with this reason
            return _error(500, f"stage failed: {type(exc).__name__}: {exc}")

    async def health(request: Any) -> Any:
        names = {"ocr": server.stages[0].ocr.name, "mt": server.stages[0].mt.name}
        answer = {"status": "ok", **names, "arbench_version": __version__}
        return web.json_response(answer | server.load())

    async def frame(request: Any) -> Any:
        if request.content_type not in CONTENT_TYPES.values():
            return _error(415, f"send the frame as one of {', '.join(CONTENT_TYPES.values())}, not {request.content_type!r}")
        data = await request.read()
        return web.json_response(await server.run(lambda stages, tracer: stages.frame(data, tracer), _deadline(request)))

    async def crops(request: Any) -> Any:
        images = await _read_crops(request, limits.max_upload_bytes, limits.max_crops)
        return web.json_response(await server.run(lambda stages, tracer: stages.crops(images, tracer), _deadline(request)))

    async def text(request: Any) -> Any:
        texts = _texts(await _json(request), limits.max_texts, limits.max_text_chars)
        return web.json_response(await server.run(lambda stages, tracer: stages.text(texts, tracer), _deadline(request)))

    app = web.Application(client_max_size=limits.max_upload_bytes, middlewares=[guard])
    app.add_routes([web.get("/v1/health", health), web.post("/v1/frame", frame), web.post("/v1/crops", crops), web.post("/v1/text", text)])
    return app


DEADLINE_HEADER = "X-Arbench-Deadline-Ms"  # how long the client still waits for this answer, ms


def _deadline(request: Any) -> float | None:
    """The client's remaining wait in seconds, from ``X-Arbench-Deadline-Ms``; None when it sent none."""
    given = request.headers.get(DEADLINE_HEADER)
    if given is None:
        return None
    try:
        value = float(given)
    except ValueError:
        raise WireError(f"{DEADLINE_HEADER} must be a number of milliseconds, not {given[:40]!r}") from None
    if not 0 < value < 86_400_000:
        raise WireError(f"{DEADLINE_HEADER} must be between 0 and 86400000 ms, not {value:g}")
    return value / 1e3


async def _read_crops(request: Any, max_bytes: int, max_crops: int) -> list[bytes]:
    """The "crop" parts of a multipart body; the whole body is capped by its declared length."""
    if not request.content_type.startswith("multipart/"):
        raise WireError(f"send crops as multipart/form-data, not {request.content_type!r}")
    if request.content_length is None:
        raise _web().HTTPLengthRequired(text="send crops with a Content-Length")
    if request.content_length > max_bytes:
        raise _web().HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=request.content_length)
    images: list[bytes] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if part.name != "crop":
            raise WireError(f"unexpected part {part.name!r}; parts must be named 'crop'")
        if len(images) == max_crops:
            raise WireError(f"more than {max_crops} crops in one request")
        images.append(bytes(await part.read()))
    return images


async def _json(request: Any) -> Any:
    if request.content_type != "application/json":
        raise WireError(f"send JSON (application/json), not {request.content_type!r}")
    try:
        return json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise WireError("malformed JSON: nested too deeply") from None


def _texts(body: Any, max_texts: int, max_chars: int) -> list[str]:
    texts = body.get("texts") if isinstance(body, dict) else None
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise WireError('expected {"texts": [string, ...]}')
    if len(texts) > max_texts or any(len(t) > max_chars for t in texts):
        raise WireError(f"at most {max_texts} texts of at most {max_chars} characters each")
    return texts


def serve(config: ServerConfig, announce: Callable[[str], None] = print) -> None:
    """Serve until SIGTERM or Ctrl-C; ``announce`` gets one "listening on URL" line once the socket is bound."""
    token = os.environ.get(config.server.token_env) or None
    if token is None and not config.loopback:
        raise UserError(
            f"binding to {config.server.host} exposes the server beyond this machine: put a bearer token in"
            f" ${config.server.token_env} (or bind 127.0.0.1)"
        )
    server = StageServer(config)
    try:
        asyncio.run(_serve(server, token, announce))
    finally:
        server.close()


async def _serve(server: StageServer, token: str | None, announce: Callable[[str], None]) -> None:
    web = _web()
    runner = web.AppRunner(make_app(server, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, server.config.server.host, server.config.server.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    announce(
        f"arbench serve: listening on http://{host}:{port} "
        f"(ocr={server.stages[0].ocr.name}, mt={server.stages[0].mt.name}, token={'yes' if token else 'no'})"
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
