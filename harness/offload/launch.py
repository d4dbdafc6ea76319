"""Start `arbench serve` as a child process (on loopback or inside a network namespace) and stop it.

The child is told to die with its parent (PR_SET_PDEATHSIG), so a killed worker leaves no server
behind. Its token travels in the environment, never on the command line.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.errors import UserError

__all__ = ["ServerProcess"]

_LISTENING = re.compile(r"listening on (http://\S+)")


def _die_with_parent() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServerProcess:
    """One `arbench serve` child: ``url`` and ``token`` once started; ``stop`` ends it.

    ``prefix`` runs it under another command (``ip netns exec NAME``); ``host`` is the address it binds
    (a token is generated when it is not loopback, or when ``token`` is true); ``extra``: more `arbench
    serve` options.
    """

    def __init__(
        self,
        config: Path | None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ocr: str | None = None,
        mt: str | None = None,
        prefix: tuple[str, ...] = (),
        token: bool = True,
        token_env: str = "ARBENCH_SERVER_TOKEN",
        start_timeout_s: float = 120.0,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.token = secrets.token_urlsafe(24) if token or host not in ("127.0.0.1", "localhost", "::1") else None
        command = [*prefix, sys.executable, "-m", "harness.cli", "serve", "--host", host, "--port", str(port), "--token-env", token_env]
        command += ["--config", str(config)] if config is not None else []
        command += ["--ocr", ocr] if ocr else []
        command += ["--mt", mt] if mt else []
        command += list(extra)  # more `arbench serve` options, e.g. ("--workers", "2")
        env = {k: v for k, v in os.environ.items() if k != token_env} | ({token_env: self.token} if self.token else {})
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop(); a file, not a pipe: a chatty server never blocks
        # preexec_fn only calls prctl (async-signal-safe); it is the one way to tie the child's life to ours
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        self.url = self._await_url(start_timeout_s)

    def _await_url(self, timeout_s: float) -> str:
        assert self.process.stdout is not None
        deadline, seen = time.monotonic() + timeout_s, b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            line = self.process.stdout.readline() if ready else b""
            seen += line
            if (found := _LISTENING.search(line.decode("utf-8", "replace"))) is not None:
                return found.group(1)
            if (ready and not line) or self.process.poll() is not None:
                break
        self._stderr.seek(0)
        error = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        self.stop()
        raise UserError(f"the offload server did not start: {(error or [seen.decode('utf-8', 'replace') or 'no output'])[-1]}")

    @property
    def alive(self) -> bool:
        """Whether the child still runs."""
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would (for tests of the client's failure handling)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; closes the pipes."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
