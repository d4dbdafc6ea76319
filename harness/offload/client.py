"""The device's HTTP client: one persistent connection, every byte on the socket counted.

Standard-library ``http.client`` over a socket wrapper that counts what ``sendall`` sends and what the
response reader receives, so ``wire_up_bytes`` / ``wire_down_bytes`` are the HTTP messages as they were
written and read (request line, headers, body; status line, headers, body). TCP/IP and link headers are
not in them (the analytic model adds them). A failed exchange closes the connection, so the next one
starts a fresh connection (``new_connection`` says so: it costs a handshake).
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ArbenchError, ConfigError

__all__ = ["Exchange", "OffloadClient", "OffloadError"]


class OffloadError(ArbenchError):
    """An exchange with the server that gave no usable answer: refused, reset, timed out or an HTTP error."""


class _Counter:
    def __init__(self) -> None:
        self.sent = 0
        self.received = 0


class _CountingReader(io.RawIOBase):
    """The socket's receive side as a raw stream, counting bytes."""

    def __init__(self, sock: socket.socket, counter: _Counter) -> None:
        self._sock, self._counter = sock, counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._sock.recv_into(buffer)
        self._counter.received += n
        return n


class _CountingSocket:
    """Enough of a socket for http.client: ``sendall`` and ``makefile("rb")`` counted, the rest passed on."""

    def __init__(self, sock: socket.socket, counter: _Counter) -> None:
        self._sock, self._counter = sock, counter

    def sendall(self, data: Any) -> None:
        self._sock.sendall(data)
        self._counter.sent += len(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_CountingReader(self._sock, self._counter))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Connection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, timeout: float, counter: _Counter) -> None:
        super().__init__(host, port, timeout=timeout)
        self.counter = counter
        self.connects = 0

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = _CountingSocket(self.sock, self.counter)  # type: ignore[assignment]
        self.connects += 1


@dataclass(frozen=True)
class Exchange:
    """One request and its answer: JSON body, bytes (HTTP payload and the whole messages), time on the monotonic clock."""

    answer: dict[str, Any]
    payload_up_bytes: int
    payload_down_bytes: int
    wire_up_bytes: int
    wire_down_bytes: int
    start_ns: int
    end_ns: int
    new_connection: bool


class OffloadClient:
    """POSTs to one server over a kept-alive connection; ``token`` goes in ``Authorization: Bearer``.

    Each POST says how long the client waits (``X-Arbench-Deadline-Ms``, its timeout), so a busy server
    refuses at once (503) what it could not start in time, instead of working for an answer nobody reads.
    """

    def __init__(self, url: str, token: str | None, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(f'[offload] server must be "auto" or http://host:port, not {url!r}')
        self._counter = _Counter()
        self._connection = _Connection(parts.hostname, parts.port, timeout_s, self._counter)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._deadline = {"X-Arbench-Deadline-Ms": str(max(1, round(timeout_s * 1000)))}

    def post(self, path: str, body: bytes, content_type: str) -> Exchange:
        """Send one request and read the whole answer; OffloadError on any failure (the connection is then closed)."""
        sent, received, connects = self._counter.sent, self._counter.received, self._connection.connects
        start = time.monotonic_ns()
        try:
            headers = {**self._headers, **self._deadline, "Content-Type": content_type}
            self._connection.request("POST", path, body=body, headers=headers)
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._connection.close()
            raise OffloadError(f"{path}: {type(exc).__name__}: {exc}") from exc
        end = time.monotonic_ns()
        if response.will_close:
            self._connection.close()
        answer = _json(data, path)
        if response.status != 200:
            raise OffloadError(f"{path}: HTTP {response.status}: {answer.get('error', response.reason)}")
        return Exchange(
            answer,
            len(body),
            len(data),
            self._counter.sent - sent,
            self._counter.received - received,
            start,
            end,
            self._connection.connects > connects,
        )

    def get(self, path: str) -> dict[str, Any]:
        """A GET (health); OffloadError on failure."""
        try:
            self._connection.request("GET", path, headers=self._headers)
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._connection.close()
            raise OffloadError(f"{path}: {type(exc).__name__}: {exc}") from exc
        if response.status != 200:
            raise OffloadError(f"{path}: HTTP {response.status}: {_json(data, path).get('error', response.reason)}")
        return _json(data, path)

    def close(self) -> None:
        self._connection.close()


def _json(data: bytes, path: str) -> dict[str, Any]:
    try:
        answer = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise OffloadError(f"{path}: the server's answer is not JSON ({data[:80]!r})") from None
    if not isinstance(answer, dict):
        raise OffloadError(f"{path}: the server's answer is not a JSON object")
    return answer
