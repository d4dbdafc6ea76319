"""The server's configuration: ``[server]`` limits and binding, and its own ``[ocr]`` / ``[mt]`` backends.

A server TOML looks like experiments/servers/offload.toml::

    [server]
    host = "127.0.0.1"
    port = 8750
    [ocr]
    backend = "rapidocr"
    precision = "fp32"
    [mt]
    backend = "apertium"
    pair = "eng-spa"

Backend keys are checked against the backend's options dataclass, as in experiments.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.registry import plugin
from harness.run.experiment import Component
from harness.tables import from_table, load_toml

__all__ = ["ServerConfig", "ServerOptions", "load_server_config"]


@dataclass(frozen=True)
class ServerOptions:
    """Binding and limits of the server.

    ``token_env`` names the environment variable holding the bearer token (a token there is always
    required; binding beyond loopback without one is refused). ``threads``: the backends' compute threads
    (0: runtime default). ``workers``: stage workers, each with its own OCR and MT backends, so requests
    run side by side (0: one per ``threads`` cores, at least one; one when ``threads`` is 0).
    ``isolation``: "process" (each worker a process of its own; one that dies is replaced) or "thread".
    ``max_queue``: requests that may wait for a worker; beyond that a request is answered 503 at once, with
    ``Retry-After``. Limits: body bytes, decoded pixels per image, per request (all of a request's crops
    together) and per server (``max_server_pixels``: all requests on the workers together; 0: workers ×
    ``max_request_pixels``), all checked from the images' headers before any is decoded; crops per
    request, texts per request and characters per text.
    """

    host: str = "127.0.0.1"
    port: int = 8750
    token_env: str = "ARBENCH_SERVER_TOKEN"
    threads: int = 0
    workers: int = 1
    isolation: str = "process"
    max_queue: int = 8
    max_upload_bytes: int = 8_000_000
    max_pixels: int = 40_000_000
    max_request_pixels: int = 40_000_000
    max_server_pixels: int = 0
    max_crops: int = 256
    max_texts: int = 256
    max_text_chars: int = 4096

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"[server] port {self.port} is not 0-65535 (0: any free port)")
        limits = (self.max_upload_bytes, self.max_pixels, self.max_request_pixels, self.max_crops, self.max_texts, self.max_text_chars)
        if min(limits) < 1:
            raise ConfigError("[server]: every max_* limit must be at least 1")
        if min(self.workers, self.max_queue, self.max_server_pixels) < 0:
            raise ConfigError("[server]: workers, max_queue and max_server_pixels must be 0 or more (0 workers: sized to the machine)")
        if self.isolation not in ("process", "thread"):
            raise ConfigError(f'[server] isolation must be "process" or "thread", not {self.isolation!r}')
        if self.max_server_pixels and self.max_server_pixels < self.max_request_pixels:
            raise ConfigError(
                f"[server] max_server_pixels ({self.max_server_pixels}) is below max_request_pixels ({self.max_request_pixels}):"
                " the largest request allowed could never run; raise it, or set 0 for workers × max_request_pixels"
            )

    def worker_count(self) -> int:
        """How many stage workers run: ``workers``, or with 0 the cores divided by the backends' threads."""
        import os

        if self.workers:
            return self.workers
        return max(1, (os.cpu_count() or 1) // self.threads) if self.threads else 1

    def server_pixels(self, workers: int) -> int:
        """The decoded pixels all running requests may hold together: ``max_server_pixels`` or workers × ``max_request_pixels``."""
        return self.max_server_pixels or workers * self.max_request_pixels


@dataclass(frozen=True)
class ServerConfig:
    """Everything `arbench serve` needs."""

    server: ServerOptions
    ocr: Component
    mt: Component

    @property
    def loopback(self) -> bool:
        """Whether the bind address is reachable from this machine only."""
        if self.server.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.server.host).is_loopback
        except ValueError:
            return False


def _component(kind: str, table: dict[str, Any], where: str) -> Component:
    table = dict(table)
    backend = str(table.pop("backend", "null"))
    found = plugin(kind, backend, where)
    return Component(kind, f"server-{kind}", backend, from_table(found.options_class(), table, f"{where} ({backend})"))


def load_server_config(path: Path | None, **overrides: Any) -> ServerConfig:
    """Read a server TOML (None: defaults, null backends).

    ``overrides`` replace ``[server]`` keys; ``ocr`` / ``mt`` replace the backend (with its default
    options) when given.
    """
    table = load_toml(path) if path is not None else {}
    where = str(path or "server defaults")
    unknown = sorted(set(table) - {"server", "ocr", "mt"})
    if unknown:
        raise ConfigError(f"{where}: unknown section [{unknown[0]}]; valid: server, ocr, mt")
    options = from_table(ServerOptions, table.get("server", {}), f"{where} [server]")
    keys = {k: v for k, v in overrides.items() if k not in ("ocr", "mt") and v is not None}
    options = dataclasses.replace(options, **keys)
    backends = {kind: ({"backend": overrides[kind]} if overrides.get(kind) else table.get(kind, {})) for kind in ("ocr", "mt")}
    return ServerConfig(options, _component("ocr", backends["ocr"], f"{where} [ocr]"), _component("mt", backends["mt"], f"{where} [mt]"))
