"""`arbench serve`: the stages as an HTTP service (aiohttp), one endpoint per partition point.

- ``GET  /v1/health``: status, the backends loaded, and the load: workers, busy, queued, pixels, served, refused, restarted.
- ``POST /v1/frame``: a JPEG, PNG or WebP frame → OCR (det, cls, rec) and MT on the server.
- ``POST /v1/crops``: multipart/form-data of text crops (parts named "crop") → recognition and MT.
- ``POST /v1/text``: JSON ``{"texts": [...]}`` → MT.

Answers are JSON: ``regions`` (quad, text, confidence; crop answers give the crop ``index`` instead of a
quad), ``targets``, ``timings_ns`` (server-side spans, same names as on the device), ``server_ns`` (their
top-level sum: the server's compute) and ``queue_ns`` (waiting for a stage worker). The stage code is the
device's: backends are built through harness.registry, one set per stage worker (harness.server.workers:
processes by default). A request's decoded pixels are read from its images' headers before it is queued
and held against the server's pixel budget while it runs. At most ``max_queue`` requests wait for a
worker; beyond that, or when the wait would pass the client's ``X-Arbench-Deadline-Ms``, the answer is 503
at once with ``Retry-After`` (seconds). Errors are JSON ``{"error": reason}`` with a 4xx for bad input
(400 malformed or over a pixel limit, 401 no or wrong token, 411 no length, 413 too large, 415 wrong
type), 503 when busy and 500 when a stage raised or its worker process died. Input is JSON or an image,
nothing else is ever decoded.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from harness import __version__
from harness.errors import BackendUnavailable, UserError
from harness.offload.wire import CONTENT_TYPES, WireError, image_size
from harness.server.config import ServerConfig, ServerOptions
from harness.server.workers import Busy, StageServer, WorkerDied

__all__ = ["DEADLINE_HEADER", "make_app", "serve"]

Handler = Callable[[Any], Awaitable[Any]]


def _web() -> Any:
    try:
        from aiohttp import web
    except ImportError:
        raise BackendUnavailable("`arbench serve` needs aiohttp: pip install -e '.[offload]'") from None
    return web


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
        except WorkerDied as exc:
            return _error(500, str(exc))
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
        answer = {"status": "ok", **server.names, "arbench_version": __version__}
        return web.json_response(answer | server.load())

    async def frame(request: Any) -> Any:
        if request.content_type not in CONTENT_TYPES.values():
            return _error(415, f"send the frame as one of {', '.join(CONTENT_TYPES.values())}, not {request.content_type!r}")
        data = await request.read()
        pixels = _pixels([data], limits, "frame")
        return web.json_response(await server.run("frame", data, pixels, _deadline(request)))

    async def crops(request: Any) -> Any:
        images = await _read_crops(request, limits.max_upload_bytes, limits.max_crops)
        pixels = _pixels(images, limits)
        return web.json_response(await server.run("crops", images, pixels, _deadline(request)))

    async def text(request: Any) -> Any:
        texts = _texts(await _json(request), limits.max_texts, limits.max_text_chars)
        return web.json_response(await server.run("text", texts, 0, _deadline(request)))

    app = web.Application(client_max_size=limits.max_upload_bytes, middlewares=[guard])
    app.add_routes([web.get("/v1/health", health), web.post("/v1/frame", frame), web.post("/v1/crops", crops), web.post("/v1/text", text)])
    return app


def _pixels(images: list[bytes], limits: ServerOptions, noun: str = "crops") -> int:
    """The pixels a request's images decode to, from their headers alone; WireError over a per-image or per-request limit."""
    total = 0
    for data in images:
        width, height = image_size(data)
        if width * height > limits.max_pixels:
            raise WireError(f"image of {width}x{height} pixels exceeds the server's limit of {limits.max_pixels} pixels")
        total += width * height
    if total > limits.max_request_pixels:
        raise WireError(
            f"{len(images)} {noun} of {total} pixels in all; the server decodes at most {limits.max_request_pixels} pixels per request"
        )
    return total


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
        f"(ocr={server.names['ocr']}, mt={server.names['mt']}, {server.workers} {server.config.server.isolation} worker(s),"
        f" token={'yes' if token else 'no'})"
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
