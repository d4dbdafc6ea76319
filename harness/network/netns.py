"""Real shaping: a veth pair between the root namespace (the device) and a namespace for the server.

``Testbed`` creates namespace ``arbench-<pid>-<n>``, a veth pair with 10.213.<n>.1 (device side) and
10.213.<n>.2 (server side), and shapes each direction on its sending end: the uplink on the device side's
egress, the downlink on the server side's. Rates use ``tbf`` (a generous queue, so a burst is delayed,
not dropped). Round trip, jitter and loss need ``netem``; where the kernel lacks it (``tc`` answers
"Specified qdisc kind is unknown") they are not applied, ``describe()`` says so, and the run's records
carry it. Needs root; without it, one UserError line. Closing deletes the namespace (and with it the pair).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from typing import Any

from harness.errors import UserError
from harness.network.profiles import NetworkProfile

__all__ = ["NETEM_MISSING", "Testbed", "netem_available", "require_root"]

NETEM_MISSING = "netem unavailable: delay/loss not applied"
_QUEUE_BYTES = 4 * 1024 * 1024  # tbf limit: holds a whole frame upload, so shaping delays and never drops
# tbf lets a full bucket through at line rate after idle: a real link does not, so the bucket holds
# one full Ethernet frame only (the smallest tbf accepts), and a frame's first bytes pay the rate too
_BURST_BYTES = 1600
_numbers = itertools.count(1)


def require_root() -> None:
    """UserError unless this process can create namespaces and qdiscs (root, ip and tc present)."""
    if os.geteuid() != 0:
        raise UserError('network shaping needs root (network namespaces and tc qdiscs): run as root, or use networks = ["loopback"]')
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise UserError(f"network shaping needs `{tool}`: apt-get install iproute2")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _must(*command: str) -> None:
    done = _run(*command)
    if done.returncode != 0:
        raise UserError(f"`{' '.join(command)}` failed: {done.stderr.strip() or done.returncode}")


def netem_available() -> bool:
    """Whether this kernel has the netem qdisc (tried on the loopback device of a throwaway namespace)."""
    require_root()
    name = f"arbench-probe-{os.getpid()}"
    _must("ip", "netns", "add", name)
    try:
        return _run("tc", "-n", name, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms").returncode == 0
    finally:
        _run("ip", "netns", "del", name)


class Testbed:
    """A shaped link to a server namespace; ``prefix`` runs a command inside it, ``server_ip`` is its address."""

    def __init__(self, profile: NetworkProfile | None) -> None:
        """A link shaped to ``profile``, or left at veth speed where it is ``None``."""
        require_root()
        self.profile = profile
        number = next(_numbers) % 250
        self.namespace = f"arbench-{os.getpid()}-{number}"
        self.device_if, server_if = f"arbd{os.getpid() % 100000}n{number}", f"arbs{os.getpid() % 100000}n{number}"
        self.device_ip, self.server_ip = f"10.213.{number}.1", f"10.213.{number}.2"
        self.netem = False
        try:
            self._link(server_if)
            self.server_if = server_if
            if profile is not None:
                self.shape(profile)
        except BaseException:
            self.close()
            raise

    def shape(self, profile: NetworkProfile) -> None:
        """Shape the link to ``profile`` (once: a link created unshaped may be shaped later, as a network that got slow)."""
        self.profile = profile
        self.netem = self._shape(self.device_if, profile.up_kbit, ()) & self._shape(
            self.server_if, profile.down_kbit, ("ip", "netns", "exec", self.namespace)
        )

    @property
    def prefix(self) -> tuple[str, ...]:
        """Command prefix that runs a program inside the server namespace."""
        return ("ip", "netns", "exec", self.namespace)

    def _link(self, server_if: str) -> None:
        _must("ip", "netns", "add", self.namespace)
        _must("ip", "link", "add", self.device_if, "type", "veth", "peer", "name", server_if)
        _must("ip", "link", "set", server_if, "netns", self.namespace)
        _must("ip", "addr", "add", f"{self.device_ip}/30", "dev", self.device_if)
        _must("ip", "link", "set", self.device_if, "up")
        for command in (
            ("addr", "add", f"{self.server_ip}/30", "dev", server_if),
            ("link", "set", server_if, "up"),
            ("link", "set", "lo", "up"),
        ):
            _must("ip", "-n", self.namespace, *command)

    def _shape(self, interface: str, rate_kbit: float, inside: tuple[str, ...]) -> bool:
        """Shape one direction; True when netem applied the half round trip (and jitter, loss) too."""
        rate_bps = rate_kbit * 1000
        burst = _BURST_BYTES
        tbf = ("tbf", "rate", f"{rate_bps:.0f}bit", "burst", str(burst), "limit", str(_QUEUE_BYTES))
        netem = self._netem_args()
        if netem and _run(*inside, "tc", "qdisc", "add", "dev", interface, "root", "handle", "1:", "netem", *netem).returncode == 0:
            _must(*inside, "tc", "qdisc", "add", "dev", interface, "parent", "1:1", "handle", "10:", *tbf)
            return True
        _must(*inside, "tc", "qdisc", "add", "dev", interface, "root", "handle", "1:", *tbf)
        return False

    def _netem_args(self) -> tuple[str, ...]:
        p = self.profile
        if p is None:
            return ()
        args: tuple[str, ...] = ()
        if p.rtt_ms:
            args += ("delay", f"{p.rtt_ms / 2:g}ms", *((f"{p.jitter_ms / 2:g}ms",) if p.jitter_ms else ()))
        if p.loss_pct:
            args += ("loss", f"{p.loss_pct:g}%")
        return args

    def describe(self) -> dict[str, Any]:
        """What was shaped and what was not, for the records and the manifest."""
        p = self.profile
        if p is None:
            return {"profile": None, "shaped": False, "netem": False}
        wanted = {"rtt_ms": p.rtt_ms or 0.0, "jitter_ms": p.jitter_ms, "loss_pct": p.loss_pct}
        applied = {"up_kbit": p.up_kbit, "down_kbit": p.down_kbit, "bucket_bytes": _BURST_BYTES} | (
            wanted if self.netem else {"rtt_ms": 0.0}
        )
        result = {"profile": p.name, "shaped": True, "netem": self.netem, "applied": applied, "source": p.source}
        if not self.netem and any(wanted.values()):
            result |= {"not_applied": {k: v for k, v in wanted.items() if v}, "note": NETEM_MISSING}
        return result

    def close(self) -> None:
        """Delete the namespace (its veth end goes with it, and so does the pair)."""
        _run("ip", "netns", "del", self.namespace)
        _run("ip", "link", "del", self.device_if)
