"""What a fleet runs on a device, from the arbench installed there: probe the host, run one benchmark, pack a run.

The fleet's plays call ``python -m harness.fleet.remote probe|models|bench|pack`` over SSH. Each call exits when its
job is done, so nothing of arbench stays resident on the device between benchmarks.

``bench`` holds an exclusive lock on ``WORKDIR/bench.lock`` for the whole run (one benchmark per device at a
time; a second one is refused at once, exit code 3), runs ``arbench run`` as its child and keeps
``WORKDIR/fleet-status-<fleet run id>.json`` current: state, the run directory as soon as it exists, the last progress line.
The fleet polls that small file. With ``--resume``, a run that the previous bench of the same fleet run left
unfinished (its host dropped) is continued with ``arbench run --resume``; otherwise a new run starts.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

from harness import __version__
from harness.run.resume import RESUMABLE
from harness.store.writer import write_json_atomic
from harness.system.fingerprint import sha256_file

__all__ = ["BENCH_FAILED", "BENCH_FINISHED", "BUSY_EXIT", "cpu_model", "main", "status_name"]

BUSY_EXIT = 3
BENCH_FINISHED = "finished"  # the run is complete (its manifest says so), whatever its configurations' fate
BENCH_FAILED = "failed"  # it crashed, was refused, or the device was busy
_WRITE_EVERY_S = 1.0


def status_name(token: str) -> str:
    """The status file of fleet run ``token`` in the host's workdir (one per fleet run, rewritten per attempt)."""
    return f"fleet-status-{token}.json"


def _source_commit() -> str | None:
    from harness.system.software import git_state, harness_repo_dir

    return git_state(harness_repo_dir())["commit"]


def probe(workdir: Path) -> dict[str, Any]:
    """What the fleet checks before it runs anything here: device, fingerprint, version, space."""
    from harness.system.board import detect_device

    usage = shutil.disk_usage(workdir)
    return {
        "detected_device": detect_device(),
        "arbench_version": __version__,
        "source_commit": _source_commit(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "workdir_free_bytes": usage.free,
    }


def cpu_model() -> str:
    """The CPU name of the machine, as runs record it (``harness.system.cpu.cpu_model``: Arm core names, x86 model names)."""
    from harness.system.cpu import cpu_model as named
    from harness.system.cpu import parse_cpuinfo

    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return named(parse_cpuinfo(text)) or "unknown"


def _manifest_state(run_dir: Path) -> str | None:
    try:
        return str(json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")).get("status"))
    except (OSError, ValueError):
        return None


def _new_run_dir(out: Path, started_s: float, known: set[Path]) -> Path | None:
    """The run directory this bench's ``arbench run`` created (the only new one with a manifest)."""
    for manifest in out.glob("*/*/manifest.json"):
        folder = manifest.parent
        if folder not in known and manifest.stat().st_mtime >= started_s - 1:
            return folder
    return None


class _Status:
    """``fleet-status-<token>.json``: written atomically, at most once a second unless forced (a new state, the run directory)."""

    def __init__(self, path: Path, token: str, attempt: int) -> None:
        self.path = path
        self.document: dict[str, Any] = {
            "token": token,
            "attempt": attempt,
            "state": "starting",
            "pid": os.getpid(),
            "run_dir": None,
            "line": "",
        }
        self.written = 0.0

    def update(self, force: bool = False, **fields: Any) -> None:
        self.document.update(fields)
        now = time.monotonic()
        if force or now - self.written >= _WRITE_EVERY_S:
            self.document["updated_unix_s"] = time.time()
            write_json_atomic(self.path, self.document)
            self.written = now


def _previous_run(status_path: Path, token: str) -> tuple[Path, dict[str, Any]] | None:
    """The run the last bench of this fleet run (same token) started here, with its manifest, if any."""
    try:
        previous = json.loads(status_path.read_text(encoding="utf-8"))
        run_dir = Path(previous["run_dir"]) if previous.get("token") == token and previous.get("run_dir") else None
        return (run_dir, json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))) if run_dir else None
    except (OSError, ValueError, KeyError):
        return None


def _to_resume(found: tuple[Path, dict[str, Any]] | None) -> tuple[Path | None, str]:
    """The cut-off run to continue (None: start anew), and why, for the status line."""
    if found is None:
        return None, ""
    run_dir, manifest = found
    if manifest.get("status") not in RESUMABLE:
        return None, ""
    if (manifest.get("resume_key") or {}).get("git_commit") != _source_commit():  # set up anew since: a resume would refuse it
        return None, f"measured anew: the code changed since {run_dir.name} was cut off"
    return run_dir, f"resuming {run_dir.name}"


def bench(workdir: Path, token: str, attempt: int, out: Path, run_args: list[str], resume: bool) -> int:
    """Run ``arbench run RUN_ARGS --out OUT`` under the device lock, keeping the status file current."""
    workdir.mkdir(parents=True, exist_ok=True)
    status_path = workdir / status_name(token)
    found = _previous_run(status_path, token) if resume else None
    status = _Status(status_path, token, attempt)
    if found is not None and found[1].get("status") == "complete":  # it ended; only its gathering was lost: nothing to measure
        status.update(force=True, state=BENCH_FINISHED, rc=0, run_dir=str(found[0]), resumed=False, line="complete before; gathered now")
        return 0
    previous, why = _to_resume(found)
    lock = (workdir / "bench.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        message = "another benchmark holds this device's lock (one runs at a time)"
        status.update(force=True, state=BENCH_FAILED, rc=BUSY_EXIT, line=message)
        print(f"arbench fleet: {message}", file=sys.stderr)
        return BUSY_EXIT
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "harness.cli", "run", *(["--resume", str(previous)] if previous else run_args), "--out", str(out)]
    status.update(force=True, state="running", run_dir=str(previous) if previous else None, resumed=previous is not None, line=why)
    rc = _follow(command, out, workdir / "fleet-bench.log", status)
    run_dir = status.document["run_dir"]
    complete = run_dir is not None and _manifest_state(Path(run_dir)) == "complete"  # a crash also exits 1: the manifest says which
    status.update(force=True, state=BENCH_FINISHED if complete else BENCH_FAILED, rc=rc)
    return rc


def _follow(command: list[str], out: Path, log_path: Path, status: _Status) -> int:
    """Run ``command``, logging its output and keeping the status current: its last line, its run directory once made."""
    known = {m.parent for m in out.glob("*/*/manifest.json")}
    started_s = time.time()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
    last = ""
    with log_path.open("a", encoding="utf-8") as log:
        while (line := _next_line(lines)) is not None:
            if line:
                log.write(line + "\n")
                log.flush()
                last = line
            if status.document["run_dir"] is None:  # as soon as the run creates it, so a resumed bench finds it
                made = _new_run_dir(out, started_s, known)
                status.update(force=made is not None, run_dir=str(made) if made else None)
            status.update(line=last[-300:])
    return child.wait()


def _next_line(lines: queue.Queue[str | None]) -> str | None:
    """The child's next line; "" when a second passed without one; None at its end."""
    try:
        return lines.get(timeout=_WRITE_EVERY_S)
    except queue.Empty:
        return ""


def _pump(stream: Any, lines: queue.Queue[str | None]) -> None:
    """Forward a child's output lines to ``lines``, then None at its end."""
    for raw in stream:
        lines.put(raw.rstrip("\n"))
    lines.put(None)


def pack(run_dir: Path, archive: Path) -> dict[str, Any]:
    """``run_dir`` as a gzip tar named by its run id, with its size and sha256 for the control host to check."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(run_dir, arcname=run_dir.name)
    partial.replace(archive)
    return {"archive": str(archive), "bytes": archive.stat().st_size, "sha256": sha256_file(archive), "device_folder": run_dir.parent.name}


def models(workdir: Path, source: Path, wanted: dict[str, str], link: bool) -> dict[str, Any]:
    """Which model files in WORKDIR/model-files differ from ``wanted`` (path -> sha256); with ``link``, link them into the tree.

    Linking checks every file first: a model whose sha256 still differs is an error, never a silent link.
    """
    store = workdir / "model-files"
    differ = [path for path, sha in sorted(wanted.items()) if not (store / path).is_file() or sha256_file(store / path) != sha]
    for path in differ:
        (store / path).parent.mkdir(parents=True, exist_ok=True)  # where the copy lands
    if link:
        if differ:
            raise SystemExit(f"arbench fleet: model files differ from the control host's after copying: {', '.join(differ)}")
        linked = 0
        for path in wanted:
            target = source / path
            if target.is_symlink() and target.readlink() == store / path:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.exists():
                target.unlink()
            target.symlink_to(store / path)
            linked += 1
        return {"differ": differ, "linked": linked}
    return {"differ": differ}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.fleet.remote", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    probe_parser = commands.add_parser("probe", help="print this host's device, fingerprint and free space as JSON")
    probe_parser.add_argument("--workdir", required=True)
    bench_parser = commands.add_parser("bench", help="run one benchmark under the device lock")
    bench_parser.add_argument("--workdir", required=True)
    bench_parser.add_argument("--token", required=True, help="the fleet run's id: a resumed bench continues only its own run")
    bench_parser.add_argument("--attempt", type=int, default=0, help="the fleet's attempt on this host: its status file says which")
    bench_parser.add_argument("--out", required=True, help="results root on this host")
    bench_parser.add_argument("--resume", action="store_true", help="continue this fleet run's unfinished run here, if any")
    bench_parser.add_argument("run_args", nargs=argparse.REMAINDER, help="-- then the arguments of `arbench run`")
    models_parser = commands.add_parser("models", help="list model files whose sha256 differs; with --link, link them into the tree")
    models_parser.add_argument("--workdir", required=True)
    models_parser.add_argument("--source", required=True, help="the source tree the models belong to")
    models_parser.add_argument("--want", required=True, help="JSON object: path in the tree -> sha256")
    models_parser.add_argument("--link", action="store_true")
    pack_parser = commands.add_parser("pack", help="write a run directory as a gzip tar; print its size and sha256 as JSON")
    pack_parser.add_argument("--run", required=True)
    pack_parser.add_argument("--archive", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m harness.fleet.remote``."""
    args = _parser().parse_args(argv)
    if args.command == "probe":
        print(json.dumps(probe(Path(args.workdir))))
        return 0
    if args.command == "models":
        print(json.dumps(models(Path(args.workdir), Path(args.source), json.loads(args.want), args.link)))
        return 0
    if args.command == "pack":
        print(json.dumps(pack(Path(args.run), Path(args.archive))))
        return 0
    run_args = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    return bench(Path(args.workdir), args.token, args.attempt, Path(args.out), run_args, args.resume)


if __name__ == "__main__":
    raise SystemExit(main())
