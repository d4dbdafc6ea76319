"""Fan-out benchmark: what a fleet costs as it grows, measured on namespaced sshd hosts (``harness.testing.ssh_hosts``).

``python -m harness.fleet.fanout --hosts 3,10,20 --out FILE.json`` creates that many hosts each time (each its own
namespace, veth link, host key and workdir), then times ``arbench fleet setup`` (from a wheelhouse) and
``arbench fleet run experiments/fleet-null.toml`` (null backends: the fleet's own work, not model time), and
records per fleet size:

- wall time of setup and of run (run includes starting, polling and gathering);
- bytes moved per host, each way, from the counters of its veth interface (``/sys/class/net/IF/statistics``);
- control-host CPU per host: user+system time of the fleet command and every process it waited for
  (ansible-playbook and its workers; the SSH connection masters that outlive it are not counted).

The hosts share this machine's cores, so the hosts' own work (a pip install each, the benchmark) competes
with the control host's: wall time here is an upper bound for devices that work in parallel. docs/fleet.md
fits a model to these numbers. Needs root and Debian's openssh-server.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.fleet.remote import cpu_model
from harness.paths import project_root
from harness.testing.ssh_hosts import ClientKey, SshHost, sshd_available, write_inventory

__all__ = ["main", "measure"]


def _bytes(host: SshHost) -> tuple[int, int]:
    """(to the host, from the host) bytes so far, read on the control side of its veth pair."""
    stats = Path("/sys/class/net") / host.testbed.device_if / "statistics"
    return int((stats / "tx_bytes").read_text()), int((stats / "rx_bytes").read_text())


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], hosts: list[SshHost]) -> dict[str, Any]:
    before = [_bytes(h) for h in hosts]
    cpu = _children_cpu_s()
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=project_root())
    wall = time.monotonic() - started
    cpu = _children_cpu_s() - cpu
    after = [_bytes(h) for h in hosts]
    down = [a[0] - b[0] for a, b in zip(after, before, strict=True)]
    up = [a[1] - b[1] for a, b in zip(after, before, strict=True)]
    return {
        "rc": done.returncode,
        "wall_s": round(wall, 2),
        "control_cpu_s": round(cpu, 2),
        "control_cpu_s_per_host": round(cpu / len(hosts), 3),
        "bytes_to_host_mean": round(sum(down) / len(hosts)),
        "bytes_from_host_mean": round(sum(up) / len(hosts)),
        "bytes_to_host_max": max(down),
        "report": done.stdout.strip().splitlines()[-len(hosts) - 1 :],
        "stderr_tail": done.stderr.strip().splitlines()[-3:],
    }


def measure(count: int, wheelhouse: Path, work: Path, experiment: Path) -> dict[str, Any]:
    """Set up ``count`` fresh hosts and run ``experiment`` on them; the costs of each phase."""
    shutil.rmtree(work, ignore_errors=True)
    key = ClientKey(work / "key")
    hosts: list[SshHost] = []
    try:
        for index in range(count):
            hosts.append(SshHost(f"d{index:03d}", work / f"d{index:03d}", key))
        known_hosts = work / "known_hosts"
        known_hosts.write_text("".join(h.known_hosts_line() for h in hosts), encoding="utf-8")
        inventory = write_inventory(work / "inventory.ini", hosts, key)
        common = ["--inventory", str(inventory), "--known-hosts", str(known_hosts), "--results", str(work / "results")]
        cli = [sys.executable, "-m", "harness.cli", "fleet"]
        setup = _timed([*cli, "setup", *common, "--wheelhouse", str(wheelhouse), "--no-apt"], hosts)
        run = _timed([*cli, "run", str(experiment), *common, "--poll-s", "2"], hosts)
        return {"hosts": count, "setup": setup, "run": run}
    finally:
        for host in hosts:
            host.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m harness.fleet.fanout``."""
    parser = argparse.ArgumentParser(prog="python -m harness.fleet.fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="3,10,20", help="fleet sizes, comma-separated (default 3,10,20)")
    parser.add_argument("--wheelhouse", required=True, help="wheels for the hosts (`arbench fleet wheelhouse --out DIR`)")
    parser.add_argument("--experiment", default="experiments/fleet-null.toml")
    parser.add_argument("--out", required=True, help="JSON file the measurements are written to")
    args = parser.parse_args(argv)
    why = sshd_available()
    if why:
        print(f"fanout: {why}", file=sys.stderr)
        return 2
    sizes = [int(n) for n in args.hosts.split(",")]
    document: dict[str, Any] = {
        "machine": {"cpu": cpu_model(), "machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()},
        "started_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": subprocess.run(
            ["git", "-C", str(project_root()), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "experiment": args.experiment,
        "sizes": [],
    }
    out = Path(args.out)
    for count in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"arbench-fanout-{count}-"))
        result = measure(count, Path(args.wheelhouse), work, Path(args.experiment))
        document["sizes"].append(result)
        out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        setup, run = result["setup"], result["run"]
        print(
            f"{count} hosts: setup {setup['wall_s']} s (rc {setup['rc']}), run {run['wall_s']} s (rc {run['rc']});"
            f" control CPU per host {setup['control_cpu_s_per_host']} + {run['control_cpu_s_per_host']} s;"
            f" bytes to a host {setup['bytes_to_host_mean'] + run['bytes_to_host_mean']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
