"""``arbench fleet setup | run | status | wheelhouse``: one experiment on many devices from this host.

Setup installs HEAD on every inventory host and checks each host's detected device against its
``arbench_device``. Run starts the experiment on every host at once (one benchmark per device), streams each
host's progress, and gathers each finished run into ``results/<device>/<run-id>``. A host that fails, drops
or is refused is one line in the fleet report; the others finish. ``--resume`` takes up the hosts of a fleet
run that did not finish, continuing an unfinished run on a host with ``arbench run --resume``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.errors import UserError
from harness.fleet.bundle import make_bundle
from harness.fleet.engine import Engine, HostResult, SshSettings
from harness.fleet.plays import run_play, setup_play
from harness.fleet.record import clock_offset, gather, latest_fleet_run, read_json, write_json_atomic
from harness.paths import project_root
from harness.store.writer import new_run_id

__all__ = ["FleetOptions", "fleet_run", "fleet_setup", "fleet_status"]

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


def _engine(options: FleetOptions, work: Path) -> tuple[Engine, dict[str, dict[str, Any]]]:
    engine = Engine(options.inventory, work, options.ssh, _Printer(options.stream))
    hosts = engine.hosts()
    unknown = [h for h in options.limit if h not in hosts]
    if unknown:
        raise UserError(f"--limit names host(s) not in {options.inventory}: {', '.join(unknown)} (it has {', '.join(hosts)})")
    chosen = {h: v for h, v in hosts.items() if not options.limit or h in options.limit}
    return engine, chosen


def _fleet_dir(results: Path) -> Path:
    return results / "fleet"


def fleet_setup(options: FleetOptions, wheelhouse: Path | None, apt: bool = True) -> int:
    """Install HEAD on every host; 0 when every host is ready, 1 when some are not (each said in one line)."""
    bundle, dirty = make_bundle(project_root() / "build" / "fleet", wheelhouse, apt)
    fleet_dir = _fleet_dir(options.results)
    engine, hosts = _engine(options, fleet_dir / "ansible-setup")
    if dirty:
        print(f"arbench fleet: warning: uncommitted changes are not shipped; hosts get commit {bundle.commit[:12]}", file=options.stream)
    print(f"arbench fleet setup: commit {bundle.commit[:12]} on {len(hosts)} host(s)", file=options.stream)
    started = time.time()
    outcomes = engine.run(setup_play(bundle), list(hosts), options.forks)
    record = read_json(fleet_dir / "hosts.json")
    lines, ready = [], 0
    for host, result in sorted(outcomes.items()):
        entry = _setup_entry(host, hosts[host], result, bundle.commit)
        record[host] = entry
        ready += entry["state"] == "ready"
        lines.append(_line(host, entry))
    fleet_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(fleet_dir / "hosts.json", record)
    print(f"fleet setup: {ready} of {len(hosts)} host(s) ready in {time.time() - started:.0f} s", file=options.stream)
    for line in lines:
        print(line)
    return 0 if ready == len(hosts) else 1


def _setup_entry(host: str, variables: dict[str, Any], result: HostResult, commit: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"commit": commit, "setup_at_utc": _utc(), "address": variables.get("ansible_host", host)}
    entry["clock"] = clock_offset(result)
    if result.fault is not None:
        return entry | {"state": _state(result), "detail": result.line()}
    probe = _json(result.results.get("probe", {}).get("stdout", ""))
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


def _state(result: HostResult) -> str:
    return {"host-key-changed": "refused", "host-key-unknown": "refused", "unreachable": "unreachable"}.get(str(result.fault), "failed")


def _json(text: str) -> dict[str, Any]:
    try:
        return dict(json.loads(text))
    except (ValueError, TypeError):
        return {}


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _line(host: str, entry: dict[str, Any]) -> str:
    clock = entry.get("clock")
    offset = f"  clock {clock['offset_ms']:+.1f} ms ± {clock['uncertainty_ms']:.1f}" if clock else ""
    return f"{host:<16} {entry['state']:<11} {entry.get('detail', '')}{offset if entry['state'] in ('ready', DONE) else ''}"


def fleet_run(
    options: FleetOptions,
    experiment: Path | None,
    resume: Path | None,
    poll_s: float,
    max_wait_s: float,
    shard: bool = False,
    calibration: str | None = None,
) -> int:
    """Run ``experiment`` on every host (or the unfinished hosts of ``resume``); 0 when all finished.

    ``shard``: identical hosts split the configurations (``harness.fleet.shard``), merged into one run at the end.
    """
    run_dir, record, experiment = _open_record(options.results, experiment, resume)
    try:
        engine, hosts = _engine(options, run_dir / "ansible")
    except UserError:
        if resume is None:  # a bad inventory or --limit: leave no empty fleet run behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    setup = read_json(_fleet_dir(options.results) / "hosts.json")
    todo = [h for h in hosts if record["hosts"].get(h, {}).get("state") != DONE]
    not_ready = [h for h in todo if setup.get(h, {}).get("state") != "ready"]
    for host in not_ready:
        record["hosts"][host] = {"state": "not-set-up", "detail": "not set up (or its setup failed): run `arbench fleet setup` first"}
    todo = [h for h in todo if h not in not_ready]
    if shard and resume is None:
        from harness.fleet.shard import assign
        from harness.run.experiment import load_experiment

        config_ids = [c.config_id for c in load_experiment(experiment).configurations()]
        record["sharding"] = assign(todo, setup, config_ids, calibration)
    attempt = 1 + max((record["hosts"].get(h, {}).get("attempts", 0) for h in todo), default=0)
    print(f"arbench fleet run {record['fleet_run']}: {experiment.name} on {len(todo)} host(s), attempt {attempt}", file=options.stream)
    record.setdefault("polls", []).append({"attempt": attempt, "poll_s": poll_s, "hosts": todo})  # each poll: one SSH exec per host
    write_json_atomic(run_dir / "fleet.json", record)
    if todo:
        shards = record.get("sharding", {}).get("shards")
        plays = run_play(record["fleet_run"], attempt, experiment, resume is not None, run_dir / "incoming", poll_s, max_wait_s, shards)
        outcomes = engine.run(plays, todo, options.forks)
        for host, result in outcomes.items():
            record["hosts"][host] = _run_entry(host, hosts[host], result, record, setup.get(host, {}), attempt, options.results, run_dir)
    _merge_shards(record, options.results)
    record["updated_at_utc"] = _utc()
    write_json_atomic(run_dir / "fleet.json", record)
    return _report(record, run_dir, options.stream)


def _open_record(results: Path, experiment: Path | None, resume: Path | None) -> tuple[Path, dict[str, Any], Path]:
    """The fleet run's folder, its record and the experiment file kept in it: a new one, or the one being resumed."""
    if resume is not None:
        record = read_json(resume / "fleet.json")
        if not record:
            raise UserError(f"{resume} is not a fleet run (no fleet.json): give a folder printed by `arbench fleet run`")
        return resume, record, resume / record["experiment_name"]
    if experiment is None or not experiment.is_file():
        raise UserError(f"experiment {experiment} not found: give an experiment TOML file, e.g. experiments/smoke.toml")
    fleet_id = new_run_id()
    run_dir = _fleet_dir(results) / fleet_id
    run_dir.mkdir(parents=True)
    (run_dir / experiment.name).write_bytes(experiment.read_bytes())  # the file every host ran, kept beside the record
    record = {
        "fleet_run": fleet_id,
        "experiment": str(experiment),
        "experiment_name": experiment.name,
        "started_at_utc": _utc(),
        "hosts": {},
    }
    return run_dir, record, run_dir / experiment.name


def _merge_shards(record: dict[str, Any], results: Path) -> None:
    """Merge each group whose shards all finished (again when a shard was gathered anew since)."""
    from harness.fleet.shard import merge

    sharding = record.get("sharding")
    for group in sharding["groups"] if sharding else []:
        entries = [record["hosts"].get(h, {}) for h in group["hosts"]]
        if not all(e.get("state") == DONE for e in entries):
            group["merged"] = None
            continue
        parts = {h: Path(record["hosts"][h]["local_run_dir"]) for h in group["hosts"]}
        if group.get("merged") and group.get("merged_from") == {h: str(p) for h, p in parts.items()}:
            continue
        merged = merge(parts, group["reference"], sharding["calibration"], sharding["matrix"], results, record["fleet_run"])
        manifest = json.loads((merged / "manifest.json").read_text(encoding="utf-8"))
        group["merged"], group["merged_from"] = str(merged), {h: str(p) for h, p in parts.items()}
        group["calibration"] = {h: v["verdict"] for h, v in manifest["fleet"]["calibration"]["hosts"].items()}


def _run_entry(
    host: str,
    variables: dict[str, Any],
    result: HostResult,
    record: dict[str, Any],
    setup: dict[str, Any],
    attempt: int,
    results: Path,
    run_dir: Path,
) -> dict[str, Any]:
    before = dict(record["hosts"].get(host, {}))
    entry = before | {"attempts": attempt, "address": variables.get("ansible_host", host), "device": setup.get("device")}
    entry["clock"] = clock_offset(result) or before.get("clock")
    bench = _status(result)
    if bench.get("run_dir"):
        entry["remote_run_dir"] = bench["run_dir"]
    if result.fault is not None:
        dropped = result.task in ("progress", "result", "pack", "fetch") and result.fault == "unreachable"
        state = "dropped" if dropped else _state(result)
        hint = f"; when it is back: arbench fleet run --resume {run_dir}" if state in ("dropped", "unreachable") else ""
        return entry | {"state": state, "detail": ("dropped mid-run: " if dropped else "") + result.line() + hint}
    if bench.get("state") != DONE or not bench.get("run_dir"):
        return entry | {"state": "failed", "detail": f"arbench run failed on the host (exit {bench.get('rc')}): {bench.get('line', '')}"}
    packed = _json(result.results.get("pack", {}).get("stdout", ""))
    archive = run_dir / "incoming" / host / Path(packed["archive"]).name
    fleet = {
        "fleet_run": record["fleet_run"],
        "host": host,
        "address": entry["address"],
        "attempt": attempt,
        "clock": entry["clock"],
        "remote_run_dir": bench["run_dir"],
        "device_folder": packed["device_folder"],
        "archive_bytes": packed["bytes"],
    }
    local = gather(archive, packed["sha256"], results, fleet)
    entry["local_run_dir"] = str(local)
    entry["bytes_gathered"] = packed["bytes"]
    failed = bench.get("rc") == 1
    detail = f"{local}" + (" (every configuration failed: see its report)" if failed else "")
    return entry | {"state": DONE, "detail": detail, "run_exit": bench.get("rc")}


def _status(result: HostResult) -> dict[str, Any]:
    """The host's last status file as the poll read it (empty when it was never read)."""
    import base64

    content = result.results.get("progress", {}).get("content")
    return _json(base64.b64decode(content).decode()) if content else {}


def _report(record: dict[str, Any], run_dir: Path, stream: TextIO) -> int:
    hosts = record["hosts"]
    finished = sum(1 for e in hosts.values() if e.get("state") == DONE)
    print(f"fleet run {record['fleet_run']}: {finished} of {len(hosts)} host(s) finished; record {run_dir / 'fleet.json'}", file=stream)
    for host, entry in sorted(hosts.items()):
        print(_line(host, entry))
    for group in record.get("sharding", {}).get("groups", []):
        print(_group_line(group, record["sharding"]["calibration"]))
    return 0 if finished == len(hosts) else 1


def _group_line(group: dict[str, Any], calibration: str) -> str:
    """One line per sharded group: where its merged run is, and whether its hosts are equivalent on the calibration."""
    hosts = "+".join(group["hosts"])
    if not group.get("merged"):
        return f"shards {hosts}: not merged until every shard finished (resume the fleet run)"
    verdicts = ", ".join(f"{h} {v}" for h, v in group["calibration"].items())
    return f"shards {hosts}: merged into {group['merged']}; on {calibration} against {group['reference']}: {verdicts}"


def fleet_status(results: Path, fleet_run: Path | None) -> int:
    """Print the hosts' setup state and the last (or the given) fleet run's per-host outcome."""
    setup = read_json(_fleet_dir(results) / "hosts.json")
    if setup:
        print("hosts (last setup):")
        for host, entry in sorted(setup.items()):
            print("  " + _line(host, entry) + f"  commit {str(entry.get('commit'))[:12]} at {entry.get('setup_at_utc')}")
    run_dir = fleet_run or (latest_fleet_run(results) if (_fleet_dir(results)).is_dir() else None)
    if run_dir is None:
        if not setup:
            raise UserError(f"no fleet under {results}: start with `arbench fleet setup --inventory FILE`")
        return 0
    record = read_json(run_dir / "fleet.json")
    if not record:
        raise UserError(f"{run_dir} is not a fleet run (no fleet.json)")
    print(f"fleet run {record['fleet_run']} ({record['experiment']}), updated {record.get('updated_at_utc', record['started_at_utc'])}:")
    for host, entry in sorted(record["hosts"].items()):
        print("  " + _line(host, entry))
    return 0


def parse_limit(text: str | None) -> tuple[str, ...]:
    """``--limit a,b``: the hosts to act on."""
    return tuple(h.strip() for h in (text or "").split(",") if h.strip())
