"""``arbench fleet run``: one experiment on every host at once, gathered into ``results/<device>/<run-id>``.

Each host runs one benchmark (the device's lock refuses a second), its progress streams as the polls read
it, and its finished run is fetched and unpacked here with the host in its manifest. A host that fails,
drops, is busy or is refused is one line of the report; the others finish. ``--resume`` takes up the hosts
of the fleet run that did not finish; on a host whose run was cut off, ``arbench run --resume`` continues it.
With ``shard``, identical hosts split the configurations and their pieces are merged (``harness.fleet.shard``).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from harness.errors import UserError
from harness.fleet.bundle import head_commit
from harness.fleet.commands import DONE, FleetOptions, fault_state, fleet_dir, host_line, json_or_empty, make_engine, utc
from harness.fleet.engine import HostResult
from harness.fleet.plays import RunSpec, run_play
from harness.fleet.record import clock_offset, gather, read_json, write_json_atomic
from harness.fleet.remote import BENCH_FINISHED, BUSY_EXIT
from harness.store.writer import new_run_id

__all__ = ["RunOptions", "fleet_run"]

_SAFE_NAME = re.compile(r"[\w.-]+")  # names that go into plays: no template syntax, no path tricks


@dataclass(frozen=True)
class RunOptions:
    """What ``arbench fleet run`` was asked: a new experiment or a fleet run to resume, polling, sharding."""

    experiment: Path | None = None
    resume: Path | None = None
    poll_s: float = 5.0
    max_wait_s: float = 86400.0
    shard: bool = False
    calibration: str | None = None


def fleet_run(options: FleetOptions, run: RunOptions) -> int:
    """Run the experiment on every host (or the unfinished hosts of ``run.resume``); 0 when all finished."""
    run_dir, record, experiment = _open_record(options.results, run)
    try:
        engine, hosts = make_engine(options, run_dir / "ansible")
    except UserError:
        if run.resume is None:  # a bad inventory or --limit: leave no empty fleet run behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    setup = read_json(fleet_dir(options.results) / "hosts.json")
    wanted = [h for h in hosts if run.resume is None or h in record["hosts"]]  # a resume stays with the fleet run's hosts
    todo = [h for h in wanted if record["hosts"].get(h, {}).get("state") != DONE]
    for host in [h for h in todo if setup.get(h, {}).get("state") != "ready"]:
        record["hosts"][host] = record["hosts"].get(host, {}) | {
            "state": "not-set-up",
            "detail": "not set up (or its setup failed): run `arbench fleet setup` first",
        }
    todo = [h for h in todo if setup.get(h, {}).get("state") == "ready"]
    _warn_old_commits(todo, setup, options.stream)
    if run.shard:
        from harness.fleet.shard import assign
        from harness.run.experiment import load_experiment

        config_ids = [c.config_id for c in load_experiment(experiment).configurations()]
        record["sharding"] = assign(todo, setup, config_ids, run.calibration)
    attempt = len(record.setdefault("polls", [])) + 1  # each attempt's number is new, so no old status file answers for it
    record["polls"].append({"attempt": attempt, "poll_s": run.poll_s, "hosts": todo, "started_at_utc": utc()})
    print(f"arbench fleet run {record['fleet_run']}: {experiment.name} on {len(todo)} host(s), attempt {attempt}", file=options.stream)
    write_json_atomic(run_dir / "fleet.json", record)
    if todo:
        spec = RunSpec(record["fleet_run"], attempt, experiment, run.resume is not None, run_dir / "incoming", run.poll_s, run.max_wait_s)
        outcomes = engine.run(run_play(spec, record.get("sharding", {}).get("shards")), todo, options.forks)
        this = _Attempt(record, attempt, options.results, run_dir)
        for host, result in outcomes.items():
            record["hosts"][host] = _host_entry(host, hosts[host], result, setup.get(host, {}), this)
    record["updated_at_utc"] = utc()
    write_json_atomic(run_dir / "fleet.json", record)  # the hosts' outcomes are safe before any merge
    _merge_shards(record, options.results)
    write_json_atomic(run_dir / "fleet.json", record)
    return _report(record, run_dir, options.stream)


def _warn_old_commits(hosts: list[str], setup: dict[str, Any], stream: TextIO) -> None:
    """Say which hosts run a commit other than this checkout's HEAD (their runs record the one they ran)."""
    head = head_commit()
    for host in hosts:
        commit = str(setup[host].get("commit"))
        if head and commit != head:
            print(
                f"arbench fleet: warning: {host} runs commit {commit[:12]}, not HEAD {head[:12]}: `arbench fleet setup` updates it",
                file=stream,
            )


def _open_record(results: Path, run: RunOptions) -> tuple[Path, dict[str, Any], Path]:
    """The fleet run's folder, its record and the experiment file kept in it: a new one, or the one resumed."""
    if run.resume is not None:
        record = read_json(run.resume / "fleet.json")
        if not record:
            raise UserError(
                f"{run.resume} is not a fleet run (no fleet.json): give a folder results/fleet/ID that `arbench fleet run` printed"
            )
        return run.resume, record, run.resume / record["experiment_name"]
    experiment = run.experiment
    if experiment is None or not experiment.is_file():
        raise UserError(f"experiment {experiment} not found: give an experiment TOML file, e.g. experiments/smoke.toml")
    if not _SAFE_NAME.fullmatch(experiment.name):
        raise UserError(
            f"experiment file name {experiment.name!r}: use letters, digits, '.', '_' and '-' only (it names a file on every host)"
        )
    fleet_id = new_run_id()
    run_dir = fleet_dir(results) / fleet_id
    run_dir.mkdir(parents=True)
    (run_dir / experiment.name).write_bytes(experiment.read_bytes())  # the file every host ran, kept beside the record
    record = {
        "fleet_run": fleet_id,
        "experiment": str(experiment),
        "experiment_name": experiment.name,
        "started_at_utc": utc(),
        "hosts": {},
    }
    return run_dir, record, run_dir / experiment.name


@dataclass(frozen=True)
class _Attempt:
    """An attempt of a fleet run: its record, its number, and where runs are gathered to."""

    record: dict[str, Any]
    number: int
    results: Path
    run_dir: Path


def _host_entry(host: str, variables: dict[str, Any], result: HostResult, setup: dict[str, Any], attempt: _Attempt) -> dict[str, Any]:
    """One host's outcome of this attempt; a run that cannot be gathered is this host's failure, no other's."""
    before = dict(attempt.record["hosts"].get(host, {}))
    entry = before | {"attempts": attempt.number, "address": variables.get("ansible_host", host), "device": setup.get("device")}
    entry["clock"] = clock_offset(result) or before.get("clock")
    bench = _status(result)
    if bench.get("run_dir"):
        entry["remote_run_dir"] = bench["run_dir"]
    resume = f"arbench fleet run --resume {attempt.run_dir}"
    if result.fault is not None:
        return entry | _fault(result, resume)
    if bench.get("state") != BENCH_FINISHED or not bench.get("run_dir"):
        why = "another benchmark holds the device" if bench.get("rc") == BUSY_EXIT else f"arbench run ended {bench.get('rc')}"
        return entry | {"state": "failed", "detail": f"{why} on the host: {bench.get('line', '')}; then: {resume}"}
    try:
        return entry | _gather(host, entry, bench, json_or_empty(result.results.get("pack", {}).get("stdout", "")), attempt)
    except (UserError, OSError, ValueError, KeyError) as error:
        return entry | {"state": "failed", "detail": f"its run could not be gathered ({error}); {resume} fetches it again"}


def _fault(result: HostResult, resume: str) -> dict[str, str]:
    """The state and line of a host the play stopped on; ``resume`` is the command that takes it up again."""
    if result.task == "device free":
        return {"state": "busy", "detail": f"a benchmark still runs there (one at a time); when it has ended: {resume}"}
    if result.task == "progress" and result.fault == "failed":
        return {"state": "timed-out", "detail": f"its run did not end within --max-wait-s; it may still run: later, {resume}"}
    if result.fault == "unreachable" and result.task in ("progress", "result", "pack", "fetch", "tidy"):
        return {"state": "dropped", "detail": f"dropped mid-run: {result.line()}; when it is back: {resume}"}
    state = fault_state(result)
    hint = f"; when it is back: {resume}" if state == "unreachable" else ""
    return {"state": state, "detail": result.line() + hint}


def _gather(host: str, entry: dict[str, Any], bench: dict[str, Any], packed: dict[str, Any], attempt: _Attempt) -> dict[str, Any]:
    """Unpack the host's fetched run into the store, with its fleet section in the manifest; then drop the archive."""
    archive = attempt.run_dir / "incoming" / host / Path(packed["archive"]).name
    fleet = {
        "fleet_run": attempt.record["fleet_run"],
        "host": host,
        "address": entry["address"],
        "attempt": attempt.number,
        "clock": entry["clock"],
        "remote_run_dir": bench["run_dir"],
        "device_folder": packed["device_folder"],
        "archive_bytes": packed["bytes"],
    }
    local = gather(archive, packed["sha256"], attempt.results, fleet)
    archive.unlink()  # unpacked and checked: the run is in the store now
    note = " (every configuration failed: see its report)" if bench.get("rc") == 1 else ""
    return {
        "state": DONE,
        "detail": f"{local}{note}",
        "local_run_dir": str(local),
        "bytes_gathered": packed["bytes"],
        "gathered_at_utc": utc(),
    }


def _status(result: HostResult) -> dict[str, Any]:
    """The host's status file as the last successful poll read it (empty when none was read)."""
    content = result.results.get("progress", {}).get("content")
    return json_or_empty(base64.b64decode(content).decode()) if content else {}


def _merge_shards(record: dict[str, Any], results: Path) -> None:
    """Merge each group whose shards all finished; again when a shard was gathered since (the old merge is replaced)."""
    from harness.fleet.shard import merge

    sharding = record.get("sharding")
    for group in sharding["groups"] if sharding else []:
        entries = {h: record["hosts"].get(h, {}) for h in group["hosts"]}
        if not all(e.get("state") == DONE for e in entries.values()):
            continue
        gathered = {h: e.get("gathered_at_utc") for h, e in entries.items()}
        if group.get("merged") and group.get("merged_from") == gathered:
            continue
        parts = {h: Path(e["local_run_dir"]) for h, e in entries.items()}
        try:
            merged = merge(parts, group["reference"], sharding["calibration"], sharding["matrix"], results, record["fleet_run"])
        except (UserError, OSError, ValueError, KeyError) as error:
            group["merge_error"] = str(error)
            continue
        if group.get("merged"):
            shutil.rmtree(group["merged"], ignore_errors=True)  # derived from the shards, which stay
        manifest = json.loads((merged / "manifest.json").read_text(encoding="utf-8"))
        group |= {"merged": str(merged), "merged_from": gathered, "merge_error": None}
        group["calibration"] = {h: v["verdict"] for h, v in manifest["fleet"]["calibration"]["hosts"].items()}


def _report(record: dict[str, Any], run_dir: Path, stream: TextIO) -> int:
    hosts = record["hosts"]
    finished = sum(1 for e in hosts.values() if e.get("state") == DONE)
    print(f"fleet run {record['fleet_run']}: {finished} of {len(hosts)} host(s) finished; record {run_dir / 'fleet.json'}", file=stream)
    for host, entry in sorted(hosts.items()):
        print(host_line(host, entry))
    for group in record.get("sharding", {}).get("groups", []):
        print(_group_line(group, record["sharding"]["calibration"]))
    return 0 if finished == len(hosts) else 1


def _group_line(group: dict[str, Any], calibration: str) -> str:
    """One line per sharded group: where its merged run is, and whether its hosts are equivalent on the calibration."""
    hosts = "+".join(group["hosts"])
    if group.get("merge_error"):
        return f"shards {hosts}: not merged: {group['merge_error']}"
    if not group.get("merged"):
        return f"shards {hosts}: not merged until every shard finished (resume the fleet run)"
    verdicts = ", ".join(f"{h} {v}" for h, v in group["calibration"].items())
    shown = "" if set(group["calibration"].values()) == {"equivalent"} else " (not all shown equivalent: compare with care)"
    return f"shards {hosts}: merged into {group['merged']}; on {calibration} against {group['reference']}: {verdicts}{shown}"
