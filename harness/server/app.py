"""`arbench serve`: the stages as an HTTP service (aiohttp), one endpoint per partition point.

- ``GET  /v1/health``: status and the backends loaded.
- ``POST /v1/frame``: a JPEG, PNG or WebP frame → OCR (det, cls, rec) and MT on the server.
- ``POST /v1/crops``: multipart/form-data of text crops (parts named "crop") → recognition and MT.
- ``POST /v1/text``: JSON ``{"texts": [...]}`` → MT.

Answers are JSON: ``regions`` (quad, text, confidence; crop answers give the crop ``index`` instead of a
quad), ``targets``, ``timings_ns`` (server-side spans, same names as on the device), ``server_ns`` (their
top-level sum: the server's compute) and ``queue_ns`` (waiting for the stage worker). The stage code is the
device's: backends are built through harness.registry, and one worker thread runs them, so a backend
never sees two calls at once. Errors are JSON ``{"error": reason}`` with a 4xx for bad input (400
malformed, 401 no or wrong token, 411 no length, 413 too large, 415 wrong type) and 500 when a stage
raised. Input is JSON or an image, nothing else is ever decoded.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import signal
import time
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

__all__ = ["StageServer", "make_app", "serve"]

Handler = Callable[[Any], Awaitable[Any]]


def _web() -> Any:
    try:
        from aiohttp import web
    except ImportError:
        raise BackendUnavailable("`arbench serve` needs aiohttp: pip install -e '.[offload]'") from None
    return web


class StageServer:
    """The server's backends and the one worker thread that runs them."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        context = BackendContext(threads=config.server.threads)
        self.ocr = config.ocr.create(context)
        self.mt = config.mt.create(context)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stages")

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        self.ocr.close()
        self.mt.close()

    async def run(self, work: Callable[[Tracer], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work`` on the stage worker; add its spans as ``timings_ns``, ``server_ns`` and ``queue_ns``."""
        submitted = time.monotonic_ns()

        def timed() -> dict[str, Any]:
            tracer = Tracer()
            started = tracer.clock()
            answer = work(tracer)
            answer["timings_ns"] = {s.name: s.duration_ns for s in tracer.spans}
            answer["server_ns"] = sum(s.duration_ns for s in tracer.spans if is_top(s.name))
            answer["queue_ns"] = started - submitted
            return answer

        return await asyncio.get_running_loop().run_in_executor(self._worker, timed)

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
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, exc.text or exc.reason)
        except Exception as exc:  # noqa: BLE001 - a stage raised: the client records a failed frame with this reason
            return _error(500, f"stage failed: {type(exc).__name__}: {exc}")

    async def health(request: Any) -> Any:
        return web.json_response({"status": "ok", "ocr": server.ocr.name, "mt": server.mt.name, "arbench_version": __version__})

    async def frame(request: Any) -> Any:
        if request.content_type not in CONTENT_TYPES.values():
            return _error(415, f"send the frame as one of {', '.join(CONTENT_TYPES.values())}, not {request.content_type!r}")
        data = await request.read()
        return web.json_response(await server.run(lambda tracer: server.frame(data, tracer)))

    async def crops(request: Any) -> Any:
        images = await _read_crops(request, limits.max_upload_bytes, limits.max_crops)
        return web.json_response(await server.run(lambda tracer: server.crops(images, tracer)))

    async def text(request: Any) -> Any:
        texts = _texts(await _json(request), limits.max_texts, limits.max_text_chars)
        return web.json_response(await server.run(lambda tracer: server.text(texts, tracer)))

    app = web.Application(client_max_size=limits.max_upload_bytes, middlewares=[guard])
    app.add_routes([web.get("/v1/health", health), web.post("/v1/frame", frame), web.post("/v1/crops", crops), web.post("/v1/text", text)])
    return app


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
        f"arbench serve: listening on http://{host}:{port} (ocr={server.ocr.name}, mt={server.mt.name}, token={'yes' if token else 'no'})"
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
