"""The plays a fleet runs, as Python dicts: setting a device up, and running one benchmark on it.

Every device command is an argv list (``ansible.builtin.command`` with ``argv``), except the clock probe,
which is ``raw`` (one SSH exec of ``date``, no module upload, so its round trip is as short as SSH allows).
Host variables the plays read from the lab's inventory, all optional:

- ``arbench_device``: the device profile the host must be detected as (default: what it is detected as);
- ``arbench_workdir``: where arbench lives on the host (default ``~/arbench``);
- ``arbench_python``: the interpreter its virtual environment is made from (default ``python3``);
- ``arbench_extras``: pip extras to install, e.g. ``mt,tflite`` (default none);
- ``arbench_apt``: install the Debian packages where the login is root (default true);
- ``arbench_data_root``: ``ARBENCH_DATA_ROOT`` on the host, for experiments that read evaluation data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.fleet.remote import BENCH_FAILED, BENCH_FINISHED, status_name
from harness.system.software import SOURCE_STAMP

__all__ = ["CLOCK_TASKS", "Bundle", "RunSpec", "run_play", "setup_play"]

Task = dict[str, Any]
WORKDIR = "{{ arbench_workdir | default(ansible_facts.user_dir ~ '/arbench') }}"
PYTHON = "{{ wd }}/venv/bin/python"
CLOCK_TASKS = ("clock 1", "clock 2", "clock 3")
_EMPTY_JSON_B64 = "e30="  # base64 of "{}": a status file not written yet


@dataclass(frozen=True)
class Bundle:
    """What setup ships: the source archive of one commit, the model files, an optional wheelhouse archive."""

    commit: str
    source_tar: Path
    models: tuple[tuple[str, Path, str], ...]  # (path in the tree, file here, sha256)
    wheelhouse_tar: Path | None
    wheelhouse_sha256: str | None
    apt_packages: tuple[str, ...]


def _play(name: str, tasks: list[Task], strategy: str = "linear") -> dict[str, Any]:
    return {
        "name": name,
        "hosts": "all",
        "gather_facts": True,
        "gather_subset": ["!all"],
        "strategy": strategy,
        "vars": {"wd": WORKDIR},
        "tasks": tasks,
    }


def _command(name: str, argv: list[str], **more: Any) -> Task:
    return {"name": name, "ansible.builtin.command": {"argv": argv, **more.pop("args", {})}, **more}


def clock_tasks() -> list[Task]:
    """Three reads of the host's clock (ns since the epoch); the control host keeps the one with the shortest round trip."""
    return [{"name": name, "ansible.builtin.raw": "date +%s%N", "changed_when": False} for name in CLOCK_TASKS]


def setup_play(bundle: Bundle) -> list[dict[str, Any]]:
    """Install ``bundle`` on every host: packages, source, models where their sha256 differs, a venv, then probe."""
    source = f"{{{{ wd }}}}/src/{bundle.commit}"
    tasks: list[Task] = [
        {"name": "workdir", "ansible.builtin.file": {"path": "{{ wd }}/src", "state": "directory", "mode": "0755"}},
        *clock_tasks(),
    ]
    if bundle.apt_packages:
        packages = list(bundle.apt_packages)
        missing = [  # only where one is missing, and only as root (a login that is not root gets no apt, and a note in the docs)
            "arbench_apt | default(true) | bool",
            "ansible_facts.user_uid == 0",
            f"apt_check.rc != 0 or (apt_check.stdout_lines | select('equalto', 'installed') | list | length) < {len(packages)}",
        ]
        tasks += [
            _command(
                "apt check",
                ["dpkg-query", "-W", "-f=${db:Status-Status}\\n", *packages],
                register="apt_check",
                changed_when=False,
                failed_when=False,
            ),
            _command("apt update", ["apt-get", "update", "-qq"], when=missing),
            _command(
                "apt install",
                ["apt-get", "install", "-y", "-qq", *packages],
                environment={"DEBIAN_FRONTEND": "noninteractive"},
                when=missing,
            ),
        ]
    tasks += [
        {"name": "source folder", "ansible.builtin.file": {"path": source, "state": "directory", "mode": "0755"}},
        {
            "name": "source",
            "ansible.builtin.unarchive": {"src": str(bundle.source_tar), "dest": source, "creates": f"{source}/{SOURCE_STAMP}"},
        },
        _command(
            "venv",
            ["{{ arbench_python | default('python3') }}", "-m", "venv", "{{ wd }}/venv"],
            args={"creates": "{{ wd }}/venv/bin/python"},
        ),
        *_install_tasks(bundle, source),
        *_model_tasks(bundle, source),
        {"name": "current", "ansible.builtin.file": {"src": source, "dest": "{{ wd }}/current", "state": "link", "force": True}},
        _command("probe", [PYTHON, "-m", "harness.fleet.remote", "probe", "--workdir", "{{ wd }}"], changed_when=False),
    ]
    return [_play("arbench fleet setup", tasks)]


def _model_tasks(bundle: Bundle, source: str) -> list[Task]:
    """Model files go to WORKDIR/model-files (kept across versions), copied where the host's sha256 differs, linked into the tree."""
    if not bundle.models:
        return []
    wanted = json.dumps({path: sha for path, _, sha in bundle.models}, sort_keys=True)
    local = {path: str(file) for path, file, _ in bundle.models}
    helper = [PYTHON, "-m", "harness.fleet.remote", "models", "--workdir", "{{ wd }}", "--source", source, "--want", wanted]
    return [
        _command("model hashes", helper, register="model_check", changed_when=False),
        {
            "name": "models",
            "ansible.builtin.copy": {"src": "{{ local[item] }}", "dest": "{{ wd }}/model-files/{{ item }}"},
            "loop": "{{ (model_check.stdout | from_json).differ }}",
            "vars": {"local": local},
        },
        _command("model links", [*helper, "--link"], register="model_links", changed_when="(model_links.stdout | from_json).linked > 0"),
    ]


def _install_tasks(bundle: Bundle, source: str) -> list[Task]:
    """Pip installs the source tree (editable, so the tree's experiments and models are the package's) once per commit."""
    target = f"{source}{{{{ ('[' ~ arbench_extras ~ ']') if arbench_extras | default('') else '' }}}}"
    stamp = f"{{{{ wd }}}}/venv/arbench-{bundle.commit}.installed"
    pip = ["{{ wd }}/venv/bin/pip", "install", "--quiet", "--disable-pip-version-check"]
    tasks: list[Task] = []
    if bundle.wheelhouse_tar is not None:
        wheels = f"{{{{ wd }}}}/wheelhouse/{bundle.wheelhouse_sha256}"
        tasks += [
            {"name": "wheelhouse folder", "ansible.builtin.file": {"path": wheels, "state": "directory", "mode": "0755"}},
            {
                "name": "wheelhouse",
                "ansible.builtin.unarchive": {"src": str(bundle.wheelhouse_tar), "dest": wheels, "creates": f"{wheels}/.complete"},
            },
            {"name": "wheelhouse complete", "ansible.builtin.copy": {"content": "", "dest": f"{wheels}/.complete"}},
        ]
        pip += ["--no-index", "--find-links", wheels]
    tasks += [
        _command("install", [*pip, "-e", target], args={"creates": stamp}),
        {"name": "install stamp", "ansible.builtin.copy": {"content": "", "dest": stamp}},
    ]
    return tasks


@dataclass(frozen=True)
class RunSpec:
    """One attempt of a fleet run: its id (the token on the hosts), the attempt, the experiment, where runs come back."""

    token: str
    attempt: int
    experiment: Path
    resume: bool
    control_dir: Path  # fetched archives land in CONTROL_DIR/<host>/
    poll_s: float
    max_wait_s: float


def _literal(text: str) -> str:
    """A path of this host that goes into a play as it is: refused if it holds template syntax."""
    if "{" in text or "}" in text:
        raise UserError(f"{text}: a path with braces cannot go into an Ansible play; use another folder")
    return text


def run_play(spec: RunSpec, shards: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Start one benchmark per host (detached), poll its status file until it ends, then pack, fetch and tidy its run.

    ``shards``: per host, the configurations it runs (``arbench run --configs``); a host not named runs them all.
    """
    play = _play("arbench fleet run", [*clock_tasks(), *_start_tasks(spec), *_poll_tasks(spec), *_gather_tasks(spec)], strategy="free")
    play["vars"]["shards"] = {host: ",".join(configs) for host, configs in (shards or {}).items()}
    return [play]


def _start_tasks(spec: RunSpec) -> list[Task]:
    """Copy the experiment, check the device is free, start the bench detached (Ansible's async: it outlives SSH)."""
    experiment = "{{ wd }}/experiments/" + _literal(spec.experiment.name)
    bench = [PYTHON, "-m", "harness.fleet.remote", "bench", "--workdir", "{{ wd }}", "--token", _literal(spec.token)]
    bench += ["--attempt", str(spec.attempt), "--out", "{{ wd }}/results", *(["--resume"] if spec.resume else [])]
    bench += [
        "--",
        experiment,
        "--device",
        "{{ arbench_device | default('auto') }}",
        "--configs={{ shards[inventory_hostname] | default('') }}",
    ]
    return [
        {"name": "experiment folder", "ansible.builtin.file": {"path": "{{ wd }}/experiments", "state": "directory", "mode": "0755"}},
        {"name": "experiment", "ansible.builtin.copy": {"src": _literal(str(spec.experiment)), "dest": experiment}},
        _command("device free", ["flock", "-n", "{{ wd }}/bench.lock", "true"], changed_when=False),
        {
            **_command("start", bench, args={"chdir": "{{ wd }}/current"}),
            "environment": "{{ {'ARBENCH_DATA_ROOT': arbench_data_root} if arbench_data_root is defined else {} }}",
            "async": int(spec.max_wait_s) + 3600,
            "poll": 0,
        },
    ]


def _poll_tasks(spec: RunSpec) -> list[Task]:
    """Read the bench's status file every ``poll_s`` until this attempt's bench says it ended; keep what it said."""
    status = "(poll.content | default('" + _EMPTY_JSON_B64 + "') | b64decode | from_json)"
    ended = f"[{BENCH_FINISHED!r}, {BENCH_FAILED!r}]"
    return [
        {
            "name": "progress",
            "ansible.builtin.slurp": {"src": "{{ wd }}/" + status_name(spec.token)},
            "register": "poll",
            "until": f"{status}.attempt | default(-1) == {spec.attempt} and {status}.state | default('') in {ended}",
            "retries": max(1, int(spec.max_wait_s / spec.poll_s)),
            "delay": spec.poll_s,
        },
        {"name": "result", "ansible.builtin.set_fact": {"bench": f"{{{{ {status} }}}}"}},
    ]


def _gather_tasks(spec: RunSpec) -> list[Task]:
    """Pack a finished run on the host, fetch it here (checksum verified by fetch), and remove the host's archive."""
    archive = "{{ wd }}/outbox/{{ bench.run_dir | basename }}.tar.gz"
    finished = f"bench.state | default('') == {BENCH_FINISHED!r}"
    pack = [PYTHON, "-m", "harness.fleet.remote", "pack", "--run", "{{ bench.run_dir }}", "--archive", archive]
    return [
        _command("pack", pack, when=finished, register="packed"),
        {
            "name": "fetch",
            "ansible.builtin.fetch": {"src": archive, "dest": _literal(str(spec.control_dir)) + "/{{ inventory_hostname }}/", "flat": True},
            "when": finished,
        },
        {"name": "tidy", "ansible.builtin.file": {"path": archive, "state": "absent"}, "when": finished},
    ]
