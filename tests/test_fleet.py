"""arbench fleet against real OpenSSH servers, one per network namespace, driven by real Ansible.

The main test sets three hosts up from a wheelhouse built once per session, then runs the smoke
experiment on them: one behind a slow shaped link, one killed mid-run, one whose host key changed. The
fault test sets up an unreachable host, a host with a full disk and a host whose key is unknown.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.fleet.engine import HostResult, SshSettings, classify
from harness.fleet.record import clock_offset
from harness.fleet.remote import BUSY_EXIT, bench, status_name
from harness.paths import project_root
from harness.testing.ssh_hosts import ClientKey, SshHost, sshd_available, write_inventory

pytest.importorskip("ansible_runner")
SMOKE = project_root() / "experiments" / "smoke.toml"
WHY_NOT = sshd_available()
needs_sshd = pytest.mark.skipif(bool(WHY_NOT), reason=f"namespaced sshd hosts: {WHY_NOT}")


def _arbench(*args: str, timeout: float = 900, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd or project_root(), check=False)


def _host_lines(stdout: str) -> dict[str, str]:
    """The fleet report's host lines: host name -> the rest of its line."""
    lines = {}
    for line in stdout.splitlines():
        name, _, rest = line.partition(" ")
        if name and rest.strip():
            lines[name] = rest.strip()
    return lines


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """arbench's dependencies as wheels, built once per test session (pip's cache makes it quick)."""
    if WHY_NOT:
        pytest.skip(WHY_NOT)
    out = tmp_path_factory.mktemp("wheelhouse")
    done = _arbench("fleet", "wheelhouse", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_classify_names_each_fault() -> None:
    changed = "@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed."
    assert classify(changed, unreachable=True) == "host-key-changed"
    assert classify("Host key verification failed.", unreachable=True) == "host-key-unknown"
    assert classify("tar: x: Cannot write: No space left on device", unreachable=False) == "disk-full"
    assert classify("ssh: connect to host 10.0.0.9 port 22: Connection refused", unreachable=True) == "unreachable"
    assert classify("non-zero return code", unreachable=False) == "failed"
    result = HostResult("h", fault="host-key-changed", task="Gathering Facts", detail="REMOTE HOST IDENTIFICATION HAS CHANGED")
    assert result.line().startswith("refused: its SSH host key changed")


def test_ssh_args_check_host_keys_strictly(tmp_path: Path) -> None:
    args = SshSettings(known_hosts=tmp_path / "kh").args()
    assert "StrictHostKeyChecking=yes" in args and f"UserKnownHostsFile={tmp_path / 'kh'}" in args and "UpdateHostKeys=no" in args
    assert "StrictHostKeyChecking=accept-new" in SshSettings(accept_new_host_keys=True).args()


def test_clock_offset_keeps_the_shortest_round_trip() -> None:
    def read(start: str, end: str, remote_s: float) -> dict[str, object]:
        return {"stdout": str(int(remote_s * 1e9)), "_start": start, "_end": end}

    base = 1_780_000_000.0  # 2026-05-28T20:26:40 UTC
    result = HostResult("h")
    result.results = {
        "clock 1": read("2026-05-28T20:26:40.000000", "2026-05-28T20:26:40.400000", base + 0.2 + 5.0),
        "clock 2": read("2026-05-28T20:26:41.000000", "2026-05-28T20:26:41.020000", base + 1.01 + 5.002),
        "clock 3": read("2026-05-28T20:26:42.000000", "2026-05-28T20:26:42.100000", base + 2.05 + 4.9),
    }
    offset = clock_offset(result)
    assert offset == {"offset_s": pytest.approx(5.002, abs=1e-5), "uncertainty_s": pytest.approx(0.010, abs=1e-5)}


def test_identical_hosts_split_the_matrix_and_all_run_the_calibration() -> None:
    from harness.fleet.shard import assign

    probe = {"machine": "aarch64", "cpu": "Cortex-A76", "cores": 4, "python": "3.11.2"}
    setup = {h: {"device": "rpi5", "commit": "abc", "probe": probe} for h in ("p1", "p2", "p3", "p4")}
    setup["orin"] = {"device": "jetson", "commit": "abc", "probe": probe | {"cpu": "Cortex-A78AE", "cores": 6}}
    setup["p4"]["commit"] = "def"  # set up at another commit: not identical
    configs = [f"c{i}" for i in range(6)]
    plan = assign(list(setup), setup, configs, calibration="c2")
    assert plan["shards"] == {"p1": ["c0", "c2", "c4"], "p2": ["c1", "c2", "c5"], "p3": ["c2", "c3"]}
    assert plan["groups"] == [
        {"hosts": ["p1", "p2", "p3"], "reference": "p1", "fingerprint": ["rpi5", "abc", "aarch64", "Cortex-A76", "4", "3.11.2"]}
    ]
    assert "orin" not in plan["shards"] and "p4" not in plan["shards"]  # no twin: each runs the whole matrix


def test_bench_refuses_a_second_benchmark_on_a_busy_device(tmp_path: Path) -> None:
    import fcntl

    with (tmp_path / "bench.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        rc = bench(tmp_path, "fleet-x", 1, tmp_path / "results", ["experiments/smoke.toml"], resume=False)
    assert rc == BUSY_EXIT
    status = json.loads((tmp_path / status_name("fleet-x")).read_text())
    assert status["state"] == "failed" and status["attempt"] == 1 and "lock" in status["line"]


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _frames_measured(host: SshHost) -> bool:
    """Whether the host's benchmark is running and has written a frame (the run is cut off mid-way then)."""
    for status_file in host.workdir.glob("fleet-status-*.json"):
        try:
            status = json.loads(status_file.read_text())
        except ValueError:
            continue
        run_dir = Path(status.get("run_dir") or "/nonexistent")
        if status.get("state") == "running" and (run_dir / "frames.jsonl").is_file():
            return (run_dir / "frames.jsonl").stat().st_size > 0
    return False


@needs_sshd
@pytest.mark.faults
def test_fleet_runs_smoke_on_three_hosts_with_a_slow_link_a_dropped_host_and_a_changed_key(tmp_path: Path, wheelhouse: Path) -> None:
    from harness.network.profiles import profile

    key = ClientKey(tmp_path / "key")
    hosts = [SshHost(name, tmp_path / name, key) for name in ("slow", "drops", "rekeyed")]
    try:
        slow, drops, rekeyed = hosts
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text("".join(h.known_hosts_line() for h in hosts))
        write_inventory(tmp_path / "inventory.ini", hosts, key)
        common = ("--inventory", "inventory.ini", "--known-hosts", "known_hosts", "--results", "results")  # relative, as users type them

        _set_up(hosts, common, wheelhouse, tmp_path)

        slow.testbed.shape(profile("devtools-fast-4g"))
        rekeyed.rekey()
        run = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "fleet", "run", str(SMOKE), *common, "--poll-s", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )  # fmt: skip
        _wait_for(lambda: _frames_measured(drops), 300, "a frame measured on the host that drops")
        drops.kill()
        out, err = run.communicate(timeout=600)
        assert run.returncode == 1, out + err
        lines = _host_lines(out)
        assert lines["slow"].startswith("finished"), out
        assert lines["drops"].startswith("dropped") and "dropped mid-run" in lines["drops"], out
        assert lines["rekeyed"].startswith("refused") and "host key changed" in lines["rekeyed"], out

        fleet_run = max((tmp_path / "results" / "fleet").glob("*/fleet.json")).parent
        record = json.loads((fleet_run / "fleet.json").read_text())
        gathered = Path(record["hosts"]["slow"]["local_run_dir"])
        manifest = json.loads((gathered / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["fleet"]["host"] == "slow"
        assert gathered.parent.parent == tmp_path / "results"

        drops.start()
        _resume_the_dropped_host(fleet_run, common, tmp_path)

        status = _arbench("fleet", "status", "--results", "results", cwd=tmp_path)
        assert status.returncode == 0 and "rekeyed" in status.stdout and "finished" in status.stdout, status.stdout + status.stderr
        _shard_figures_and_compare(common, tmp_path)
    finally:
        for host in hosts:
            host.close()


def _set_up(hosts: list[SshHost], common: tuple[str, ...], wheelhouse: Path, here: Path) -> None:
    """Set the hosts up from the wheelhouse: all ready, at this commit, clocks within their uncertainty (one machine)."""
    setup = _arbench("fleet", "setup", *common, "--wheelhouse", str(wheelhouse), cwd=here)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    ready = _host_lines(setup.stdout)
    assert all(ready[h.name].startswith("ready") for h in hosts), setup.stdout
    setup_record = json.loads((here / "results" / "fleet" / "hosts.json").read_text())
    head = ["git", "-C", str(project_root()), "rev-parse", "HEAD"]
    commit = subprocess.run(head, capture_output=True, text=True, check=True).stdout.strip()
    assert {entry["probe"]["source_commit"] for entry in setup_record.values()} == {commit}
    assert all(abs(entry["clock"]["offset_s"]) <= entry["clock"]["uncertainty_s"] + 0.001 for entry in setup_record.values())


def _resume_the_dropped_host(fleet_run: Path, common: tuple[str, ...], here: Path) -> None:
    """The host that dropped is back: its cut-off run is continued and gathered; the rekeyed host is still refused."""
    resumed = _arbench("fleet", "run", *common, "--resume", str(fleet_run.relative_to(here)), "--poll-s", "1", cwd=here)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    lines = _host_lines(resumed.stdout)
    assert lines["drops"].startswith("finished") and lines["slow"].startswith("finished"), resumed.stdout
    assert lines["rekeyed"].startswith("refused"), resumed.stdout
    record = json.loads((fleet_run / "fleet.json").read_text())
    manifest = json.loads((Path(record["hosts"]["drops"]["local_run_dir"]) / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["invocations"]) == 2  # the killed run, resumed
    assert manifest["fleet"]["attempt"] == 2


def _shard_figures_and_compare(common: tuple[str, ...], here: Path) -> None:
    """Two identical hosts shard fleet-null (three configurations), merged into one run; figures and compare over it."""
    results = here / "results"
    null = str(project_root() / "experiments" / "fleet-null.toml")
    sharded = _arbench("fleet", "run", null, *common, "--limit", "slow,drops", "--shard", "--poll-s", "1", cwd=here)
    assert sharded.returncode == 0, sharded.stdout + sharded.stderr
    fleet_run = max((results / "fleet").glob("*/fleet.json")).parent
    record = json.loads((fleet_run / "fleet.json").read_text())
    sharding = record["sharding"]
    assert sharding["calibration"] == "synth-a/null/null"
    assert sharding["shards"] == {"drops": ["synth-a/null/null", "synth-b/null/null"], "slow": ["synth-a/null/null", "synth-c/null/null"]}
    (group,) = sharding["groups"]
    merged = Path(group["merged"])
    manifest = json.loads((merged / "manifest.json").read_text())
    owners = {o["config_id"]: o["host"] for o in manifest["configurations"]}
    assert owners == {"synth-a/null/null": "drops", "synth-b/null/null": "drops", "synth-c/null/null": "slow"}
    frames = [json.loads(line) for line in (merged / "frames.jsonl").read_text().splitlines()]
    assert {(f["config_id"], f["host"]) for f in frames} == set(owners.items())
    calibration = manifest["fleet"]["calibration"]
    assert calibration["reference"] == "drops" and set(calibration["hosts"]) == {"slow"}
    assert calibration["hosts"]["slow"]["verdict"] in ("equivalent", "different", "undecided")
    assert "e2e p50 ms" in calibration["hosts"]["slow"]["figures"]
    assert f"shards drops+slow: merged into {merged}" in sharded.stdout

    report = _arbench("report", str(merged))
    assert report.returncode == 0, report.stderr
    figures = _arbench("figures", str(fleet_run))
    assert figures.returncode == 0, figures.stderr
    assert (fleet_run / "figures" / "stage_latency.png").is_file()

    previous = max(p for p in (results / "fleet").glob("*/fleet.json") if p.parent != fleet_run).parent
    figures = _arbench("figures", str(previous))  # the smoke run: two hosts of one profile, side by side
    assert figures.returncode == 0, figures.stderr
    devices_table = (previous / "figures" / "devices.md").read_text()
    assert "laptop (slow)" in devices_table and "laptop (drops)" in devices_table and "Python" in devices_table
    compared = _arbench("compare", str(previous))
    assert compared.returncode == 0 and "against" in compared.stdout, compared.stderr


@needs_sshd
@pytest.mark.faults
def test_fleet_setup_reports_unreachable_full_disk_and_unknown_key_hosts(tmp_path: Path) -> None:
    key = ClientKey(tmp_path / "key")
    hosts = [
        SshHost("gone", tmp_path / "gone", key),
        SshHost("full", tmp_path / "full", key, disk_bytes=256 * 1024),
        SshHost("stranger", tmp_path / "stranger", key),
    ]
    try:
        gone, full, _ = hosts
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(gone.known_hosts_line() + full.known_hosts_line())
        gone.kill()
        inventory = write_inventory(tmp_path / "inventory.ini", hosts, key)
        options = ("--inventory", str(inventory), "--known-hosts", str(known_hosts), "--results", str(tmp_path / "results"))
        setup = _arbench("fleet", "setup", *options, "--no-apt")
        assert setup.returncode == 1, setup.stdout + setup.stderr
        lines = _host_lines(setup.stdout)
        assert lines["gone"].startswith("unreachable"), setup.stdout
        assert lines["full"].startswith("failed") and "disk is full" in lines["full"], setup.stdout
        assert lines["stranger"].startswith("refused") and "not in known_hosts" in lines["stranger"], setup.stdout
        assert len(setup.stdout.strip().splitlines()) == 3
    finally:
        for host in hosts:
            host.close()
