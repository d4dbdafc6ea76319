"""Sharding one experiment across identical devices, and merging the pieces into one run.

Hosts are identical when their device profile, the commit set up on them and their fingerprint (architecture,
CPU model, core count, Python) agree, as their setup probes recorded them. A group of identical hosts splits the experiment's configurations
round-robin in matrix order; each host runs all rounds of its share (``arbench run --configs``), and every host
also runs one shared calibration configuration (the matrix's first, unless named).

The merge writes one run, ``results/<device>/<id>``: every frame record and configuration outcome says which
host measured it (``host``); the calibration configuration's frames are the reference host's (the first by
name). The manifest's ``fleet.calibration`` says, for every other host, whether it is equivalent to the
reference on the calibration configuration: the equivalence test of ``arbench check-transfer``
(``harness.report.transfer``: TOST at the 5% level, the same default margins) per figure, and overall
``equivalent`` only when every figure is. A merge of hosts that are not shown equivalent still happens, and the
fleet report's line for the group says so. Statistics leave out the frames of rounds a resumed shard measured
again, as a run's own do.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.fleet.record import utc
from harness.store.reader import current_records, read_frames
from harness.store.schema import FRAMES
from harness.store.summary import summarize
from harness.store.writer import new_run_id, write_json_atomic

__all__ = ["assign", "fingerprint", "merge"]


def fingerprint(entry: dict[str, Any]) -> tuple[str, ...]:
    """What makes two hosts identical for sharding: their profile and what their setup probe found."""
    probe = entry.get("probe", {})
    return (str(entry.get("device")), str(entry.get("commit")), *(str(probe.get(k)) for k in ("machine", "cpu", "cores", "python")))


def assign(hosts: list[str], setup: dict[str, dict[str, Any]], config_ids: list[str], calibration: str | None) -> dict[str, Any]:
    """The shards: per group of identical hosts, each host's configurations (its share plus the calibration)."""
    if calibration is not None and calibration not in config_ids:
        raise UserError(f"--calibration {calibration}: not a configuration of the experiment ({', '.join(config_ids)})")
    calibration = calibration or config_ids[0]
    groups: dict[tuple[str, ...], list[str]] = {}
    for host in sorted(hosts):
        groups.setdefault(fingerprint(setup[host]), []).append(host)
    shards: dict[str, list[str]] = {}
    group_list = []
    for members in groups.values():
        if len(members) == 1:
            continue  # nothing to share with: it runs the whole matrix
        rest = [c for c in config_ids if c != calibration]
        for index, host in enumerate(members):
            mine = set(rest[index :: len(members)]) | {calibration}
            shards[host] = [c for c in config_ids if c in mine]
        group_list.append({"hosts": members, "reference": members[0], "fingerprint": list(fingerprint(setup[members[0]]))})
    return {"calibration": calibration, "matrix": config_ids, "shards": shards, "groups": group_list}


def merge(parts: dict[str, Path], reference: str, calibration: str, matrix: list[str], results: Path, fleet_run: str) -> Path:
    """One run from the shards in ``parts`` (host -> its gathered run), in ``matrix`` order; returns the merged run's folder."""
    manifests = {host: json.loads((run / "manifest.json").read_text(encoding="utf-8")) for host, run in parts.items()}
    incomplete = [host for host, m in manifests.items() if m.get("status") != "complete"]
    if incomplete:
        raise UserError(f"shards of {', '.join(incomplete)} are not complete; resume the fleet run first")
    owner = _owners(manifests, reference, calibration)
    order = [c for c in matrix if c in owner]
    outcomes, rounds, superseded, records = _collect(parts, manifests, owner, order)
    base = copy.deepcopy(manifests[reference])
    run_id = new_run_id()
    folder = results / str(base.get("stored_under") or base["device"]["name"]) / run_id
    folder.mkdir(parents=True)
    with (folder / "frames.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    base |= {"run_id": run_id, "configurations": outcomes, "round_outcomes": rounds, "superseded": superseded}
    base["experiment"]["only"] = order
    resolved = {c: d for m in manifests.values() for c, d in m["experiment"]["resolved"]["configurations"].items()}
    base["experiment"]["resolved"]["configurations"] = {c: resolved[c] for c in order}
    base["validity"] = _validity(manifests)
    shards = {
        h: {"run_dir": str(parts[h]), "configs": manifests[h]["experiment"].get("only"), **manifests[h].get("fleet", {})} for h in parts
    }
    base["fleet"] = {
        "fleet_run": fleet_run,
        "merged_at_utc": utc(),
        "shards": dict(sorted(shards.items())),
        "calibration": calibrate(parts, reference, calibration),
    }
    write_json_atomic(folder / "manifest.json", base)
    summary = summarize(current_records(records, base), outcomes)  # superseded rounds left out, as in a run's own summary
    summary["host"] = summary["config_id"].map(owner)
    summary.to_csv(folder / "summary.csv", index=False, float_format="%.6g")
    return folder


def _owners(manifests: dict[str, dict[str, Any]], reference: str, calibration: str) -> dict[str, str]:
    """Which host's frames stand for each configuration: its shard's; the calibration's, the reference's."""
    owner: dict[str, str] = {}
    for host in sorted(manifests):
        for config in manifests[host]["experiment"].get("only") or []:
            if config != calibration or host == reference:
                owner.setdefault(config, host)
    return owner


def _collect(
    parts: dict[str, Path], manifests: dict[str, dict[str, Any]], owner: dict[str, str], order: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Outcomes, round outcomes, superseded entries and frame records of each configuration from its owner, with ``host``."""
    outcomes, rounds, superseded, records = [], {}, [], []
    for config in order:
        host = owner[config]
        manifest = manifests[host]
        outcomes += [o | {"host": host} for o in manifest["configurations"] if o["config_id"] == config]
        rounds[config] = manifest.get("round_outcomes", {}).get(config, {})
        superseded += [s | {"host": host} for s in manifest.get("superseded") or [] if s.get("config_id") == config]
        records += [r | {"host": host} for r in read_frames(parts[host] / FRAMES)[0] if r.get("config_id") == config]
    return outcomes, rounds, superseded, records


def _validity(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    validities = [m.get("validity", {}) for m in manifests.values()]
    merged = dict(validities[0])
    merged["complete"] = all(v.get("complete") for v in validities)
    merged["all_minimums_met"] = all(v.get("all_minimums_met") for v in validities)
    merged["failed_configurations"] = sorted({c for v in validities for c in v.get("failed_configurations", [])})
    merged["bad_frame_lines"] = sum(int(v.get("bad_frame_lines", 0)) for v in validities)
    merged["device_matches_detected"] = all(v.get("device_matches_detected", True) for v in validities)
    return merged


def calibrate(parts: dict[str, Path], reference: str, calibration: str) -> dict[str, Any]:
    """Each host against the reference on the calibration configuration: per figure, and overall."""
    from harness.report.transfer import check_transfer
    from harness.store.reader import load_run

    ref = load_run(parts[reference])
    verdicts: dict[str, Any] = {}
    for host in sorted(parts):
        if host == reference:
            continue
        checks = [c for c in check_transfer(ref, load_run(parts[host])) if c.config == calibration]
        figures = {
            c.figure: {"a": c.a, "b": c.b, "change": c.change, "ci90": list(c.ci90), "margin": c.margin, "verdict": c.verdict}
            for c in checks
        }
        states = {c.verdict for c in checks}
        overall = "equivalent" if states == {"equivalent"} else "different" if "different" in states else "undecided"
        verdicts[host] = {"verdict": overall, "figures": figures}
    return {
        "config": calibration,
        "reference": reference,
        "test": "TOST at 5% (arbench check-transfer, default margins)",
        "hosts": verdicts,
    }
