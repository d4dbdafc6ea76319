"""The fleet's records on the control host, and gathering runs into the local store.

``results/fleet/hosts.json``: per host, what the last setup found (commit, probe, clock offset).
``results/fleet/<fleet-run-id>/fleet.json``: one fleet run: the experiment, each attempt (``polls``), the
sharding if any, and per host its state (``finished``, ``dropped``, ``unreachable``, ``refused``, ``busy``,
``timed-out``, ``failed``, ``not-set-up``), attempts, remote and local run directories, clock offset, and the
one line the report prints. Both are rewritten atomically.
A gathered run is unpacked into ``results/<device>/<run-id>`` with ``fleet`` added to its manifest: the
inventory host, its address, the fleet run id and the host's clock offset to this control host.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.fleet.engine import HostResult, iso_s
from harness.fleet.plays import CLOCK_TASKS
from harness.store.writer import write_json_atomic
from harness.system.fingerprint import sha256_file

_SAFE = re.compile(r"(?!\.\.?$)[\w.-]+")  # a folder name, not "." or "..": what a device names cannot leave results/

__all__ = ["clock_offset", "gather", "latest_fleet_run", "read_json", "utc", "write_json_atomic"]


def utc() -> str:
    """Now, UTC, to the second (ISO 8601), as run manifests write their times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_json(path: Path) -> dict[str, Any]:
    """A fleet record, or an empty one where none was written yet."""
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as error:
        raise UserError(f"{path} is damaged ({error}); move it aside and run the fleet command again") from None


def clock_offset(result: HostResult) -> dict[str, float] | None:
    """Host clock minus control clock (s) from the clock reads, the one with the shortest round trip; ± half of it."""
    best: tuple[float, float] | None = None
    for task in CLOCK_TASKS:
        res = result.results.get(task)
        if not res or not res.get("_start") or not res.get("_end"):
            continue
        try:
            remote_s = int(str(res.get("stdout", "")).strip()) / 1e9
        except ValueError:
            continue
        start, end = iso_s(res["_start"]), iso_s(res["_end"])
        half = (end - start) / 2
        if best is None or half < best[1]:
            best = (remote_s - (start + half), half)
    if best is None:
        return None
    return {"offset_s": round(best[0], 6), "uncertainty_s": round(best[1], 6)}


def latest_fleet_run(results: Path) -> Path:
    """The newest ``results/fleet/<id>`` holding a fleet.json."""
    runs = sorted(p.parent for p in (results / "fleet").glob("*/fleet.json"))
    if not runs:
        raise UserError(f"no fleet run under {results / 'fleet'}: start one with `arbench fleet run EXPERIMENT --inventory FILE`")
    return runs[-1]


def gather(archive: Path, expected_sha256: str | None, results: Path, fleet: dict[str, Any]) -> Path:
    """Unpack a fetched run archive into ``results/<device>/<run-id>`` and record the fleet in its manifest."""
    if expected_sha256 and sha256_file(archive) != expected_sha256:
        raise UserError(f"{archive}: sha256 differs from the host's; fetch it again with `arbench fleet run --resume`")
    staging = archive.parent / (archive.name + ".unpacked")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(staging, filter="data")
    unpacked = list(staging.iterdir())
    if len(unpacked) != 1 or not _SAFE.fullmatch(unpacked[0].name) or not _SAFE.fullmatch(str(fleet["device_folder"])):
        raise UserError(f"{archive} is not one run folder of a device folder with a plain name; not gathered")
    run = unpacked[0]
    manifest_path = run / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["fleet"] = fleet | {"gathered_at_utc": utc()}
    write_json_atomic(manifest_path, manifest)
    destination = results / fleet["device_folder"] / run.name  # plain names (checked above): inside results/, whatever the device says
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists():  # gathered before (a resumed host's run, now longer): the newer copy replaces it
        shutil.rmtree(destination)
    run.replace(destination)
    shutil.rmtree(staging, ignore_errors=True)
    return destination
