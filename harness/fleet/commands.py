"""``arbench fleet setup | status``, and what the fleet commands share (options, the engine, report lines).

Setup installs HEAD on every inventory host and checks each host's detected device against its
``arbench_device``; ``results/fleet/hosts.json`` keeps what it found. Running an experiment is
``harness.fleet.running``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.errors import UserError
from harness.fleet.bundle import make_bundle
from harness.fleet.engine import Engine, HostResult, SshSettings
from harness.fleet.plays import setup_play
from harness.fleet.record import clock_offset, latest_fleet_run, read_json, utc, write_json_atomic
from harness.paths import project_root

__all__ = [
    "DONE",
    "FleetOptions",
    "fault_state",
    "fleet_dir",
    "fleet_setup",
    "fleet_status",
    "host_line",
    "json_or_empty",
    "make_engine",
    "utc",
]

DONE = "finished"


@dataclass(frozen=True)
class FleetOptions:
    """What every fleet command shares: the inventory, where results go, how SSH checks hosts."""

    inventory: Path
    results: Path = Path("results")
    ssh: SshSettings = field(default_factory=SshSettings)
    limit: tuple[str, ...] = ()
    forks: int | None = None
    stream: TextIO = sys.stderr


class _Printer:
    """Each host's progress as ``host: message`` lines, a line repeated by a poll printed once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last: dict[str, str] = {}

    def __call__(self, host: str, message: str) -> None:
        if self.last.get(host) != message:
            self.last[host] = message
            print(f"  {host}: {message}", file=self.stream, flush=True)


def make_engine(options: FleetOptions, work: Path) -> tuple[Engine, dict[str, dict[str, Any]]]:
    """The engine over the inventory, and the hosts to act on (all, or ``--limit``'s) with their variables."""
    engine = Engine(options.inventory, work, options.ssh, _Printer(options.stream))
    hosts = engine.hosts()
    unknown = [h for h in options.limit if h not in hosts]
    if unknown:
        raise UserError(f"--limit names host(s) not in {options.inventory}: {', '.join(unknown)} (it has {', '.join(hosts)})")
    chosen = {h: v for h, v in hosts.items() if not options.limit or h in options.limit}
    return engine, chosen


def fleet_dir(results: Path) -> Path:
    """Where the fleet's records live under the results root."""
    return results / "fleet"


def fleet_setup(options: FleetOptions, wheelhouse: Path | None, apt: bool = True) -> int:
    """Install HEAD on every host; 0 when every host is ready, 1 when some are not (each said in one line)."""
    bundle, dirty = make_bundle(project_root() / "build" / "fleet", wheelhouse, apt)
    folder = fleet_dir(options.results)
    engine, hosts = make_engine(options, folder / "ansible-setup")
    if dirty:
        print(f"arbench fleet: warning: uncommitted changes are not shipped; hosts get commit {bundle.commit[:12]}", file=options.stream)
    print(f"arbench fleet setup: commit {bundle.commit[:12]} on {len(hosts)} host(s)", file=options.stream)
    started = time.time()
    outcomes = engine.run(setup_play(bundle), list(hosts), options.forks)
    record = read_json(folder / "hosts.json")
    lines, ready = [], 0
    for host, result in sorted(outcomes.items()):
        entry = _setup_entry(host, hosts[host], result, bundle.commit)
        record[host] = entry
        ready += entry["state"] == "ready"
        lines.append(host_line(host, entry))
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "hosts.json", record)
    print(f"fleet setup: {ready} of {len(hosts)} host(s) ready in {time.time() - started:.0f} s", file=options.stream)
    for line in lines:
        print(line)
    return 0 if ready == len(hosts) else 1


def _setup_entry(host: str, variables: dict[str, Any], result: HostResult, commit: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"commit": commit, "setup_at_utc": utc(), "address": variables.get("ansible_host", host)}
    entry["clock"] = clock_offset(result)
    if result.fault is not None:
        return entry | {"state": fault_state(result), "detail": result.line()}
    probe = json_or_empty(result.results.get("probe", {}).get("stdout", ""))
    entry["probe"] = probe
    wanted = variables.get("arbench_device")
    detected = probe.get("detected_device")
    if wanted and wanted != detected:
        return entry | {
            "state": "mismatch",
            "detail": f"detected as {detected!r}, the inventory says arbench_device={wanted!r}; fix one of them",
        }
    entry["device"] = wanted or detected
    return entry | {
        "state": "ready",
        "detail": f"{entry['device']} ({probe.get('machine')}, {probe.get('cpu')}, {probe.get('cores')} cores)",
    }


def fault_state(result: HostResult) -> str:
    """The report's state for a host the play stopped on: refused, unreachable or failed."""
    return {"host-key-changed": "refused", "host-key-unknown": "refused", "unreachable": "unreachable"}.get(str(result.fault), "failed")


def json_or_empty(text: str) -> dict[str, Any]:
    """A JSON object a host printed, or an empty one where it printed none."""
    try:
        return dict(json.loads(text))
    except (ValueError, TypeError):
        return {}


def host_line(host: str, entry: dict[str, Any]) -> str:
    """A host's line of the report: name, state, what happened, and its clock offset where it is in use."""
    clock = entry.get("clock")
    offset = f"  clock {clock['offset_s'] * 1000:+.1f} ms ± {clock['uncertainty_s'] * 1000:.1f}" if clock else ""
    return f"{host:<16} {entry['state']:<11} {entry.get('detail', '')}{offset if entry['state'] in ('ready', DONE) else ''}"


def fleet_status(results: Path, fleet_run: Path | None) -> int:
    """Print the hosts' setup state and the last (or the given) fleet run's per-host outcome."""
    setup = read_json(fleet_dir(results) / "hosts.json")
    if setup:
        print("hosts (last setup):")
        for host, entry in sorted(setup.items()):
            print("  " + host_line(host, entry) + f"  commit {str(entry.get('commit'))[:12]} at {entry.get('setup_at_utc')}")
    has_runs = any(fleet_dir(results).glob("*/fleet.json"))
    run_dir = fleet_run or (latest_fleet_run(results) if has_runs else None)
    if run_dir is None:
        if not setup:
            raise UserError(f"no fleet under {results}: start with `arbench fleet setup --inventory FILE` (or give --results)")
        print("no fleet run yet: `arbench fleet run EXPERIMENT --inventory FILE`")
        return 0
    record = read_json(run_dir / "fleet.json")
    if not record:
        raise UserError(f"{run_dir} is not a fleet run (no fleet.json): give a folder results/fleet/ID that `arbench fleet run` printed")
    print(f"fleet run {record['fleet_run']} ({record['experiment']}), updated {record.get('updated_at_utc', record['started_at_utc'])}:")
    for host, entry in sorted(record["hosts"].items()):
        print("  " + host_line(host, entry))
    return 0


def parse_limit(text: str | None) -> tuple[str, ...]:
    """``--limit a,b``: the hosts to act on."""
    return tuple(h.strip() for h in (text or "").split(",") if h.strip())
