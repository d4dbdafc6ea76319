"""Ansible, driven through ansible-runner: the one SSH stack the fleet uses.

arbench never imports ``ansible`` (GPL-3.0): ansible-runner (Apache-2.0) runs ``ansible-playbook`` and
``ansible-inventory`` as separate programs and hands their events back. Plays are Python dicts; every command
on a device is an argv list, never a shell string put together here.

Host keys are checked strictly: a host whose key is unknown or changed is refused, never accepted
(``accept_new_host_keys`` accepts only keys of hosts never seen, as ``StrictHostKeyChecking=accept-new``
does). Each host's outcome is one ``HostResult``; a fault (unreachable, changed host key, full disk, a
failed task) stops that host only.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UserError

__all__ = ["Engine", "HostResult", "SshSettings", "classify", "iso_s", "require_ansible"]

Play = dict[str, Any]
Progress = Callable[[str, str], None]  # (host, message)

_HOST_KEY_CHANGED = "REMOTE HOST IDENTIFICATION HAS CHANGED"
_HOST_KEY_FAILED = "Host key verification failed"
_DISK_FULL = ("No space left on device", "Disk quota exceeded")
_KEPT_EVENTS = ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed", "playbook_on_stats")  # in the run's artifacts


def require_ansible() -> Path:
    """The folder holding ``ansible-playbook`` (this interpreter's bin first, then PATH); UserError without it."""
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        raise UserError("the fleet needs ansible-runner and ansible-core: pip install 'arbench[fleet]'") from None
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.is_file():
        # ansible-runner finds its programs on PATH: put this environment's bin there (run from .venv/bin/arbench unactivated)
        if str(beside.parent) not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = f"{beside.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return beside.parent
    found = shutil.which("ansible-playbook")
    if found is None:
        raise UserError("the fleet needs ansible-core's ansible-playbook: pip install 'arbench[fleet]'")
    return Path(found).parent


def classify(message: str, unreachable: bool) -> str:
    """The fault kind of a failed or unreachable host, from Ansible's message."""
    if _HOST_KEY_CHANGED in message:
        return "host-key-changed"
    if _HOST_KEY_FAILED in message or "No ED25519 host key is known" in message or "host key is known" in message:
        return "host-key-unknown"
    if any(text in message for text in _DISK_FULL):
        return "disk-full"
    return "unreachable" if unreachable else "failed"


_ADVICE = {
    "host-key-changed": "refused: its SSH host key changed; check the host, then replace its line in known_hosts",
    "host-key-unknown": "refused: its SSH host key is not in known_hosts; check its fingerprint and add it (or --accept-new-host-keys)",
    "disk-full": "its disk is full; free space in its workdir",
    "unreachable": "unreachable",
    "failed": "failed",
}


@dataclass
class HostResult:
    """One host's outcome of a play run: ``fault`` ``None`` when every task went through."""

    host: str
    fault: str | None = None
    message: str = ""
    task: str = ""
    detail: str = ""  # the line that says why: a failed command's last stderr line, else Ansible's message
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # task name -> module result

    def line(self) -> str:
        """The fault as one line for the fleet report (empty when none)."""
        if self.fault is None:
            return ""
        return (
            f"{_ADVICE[self.fault]} (task {self.task!r}: {self.detail})" if self.detail else f"{_ADVICE[self.fault]} (task {self.task!r})"
        )


def _first_line(message: str) -> str:
    """Ansible's message in one line: the SSH banner of a changed key named as such, else its first real line."""
    if _HOST_KEY_CHANGED in message:
        return _HOST_KEY_CHANGED
    for text in message.replace("\r", "\n").splitlines():
        stripped = text.strip(" @")
        if stripped:
            return stripped[:240]
    return ""


def _strings(value: Any) -> list[str]:
    """Every string in a module result, nested ones included (unarchive's tar stderr, a loop item's stderr)."""
    if isinstance(value, dict):
        return [text for key, item in value.items() if key != "invocation" for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def _disk_full_line(texts: list[str]) -> str:
    """The line of a result that says the disk is full (tar's, pip's)."""
    for text in texts:
        for line in text.splitlines():
            if any(phrase in line for phrase in _DISK_FULL):
                return line.strip()[:240]
    return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:240] if lines else ""


@dataclass(frozen=True)
class SshSettings:
    """How Ansible's SSH connects: strict host keys, a known_hosts file, short timeouts, shared connections.

    The shared connections' sockets stay where Ansible keeps them (``~/.ansible/cp``, the user's own), never in a
    folder of /tmp that another user could have made first.
    """

    known_hosts: Path | None = None  # None: ssh's own (~/.ssh/known_hosts)
    accept_new_host_keys: bool = False
    connect_timeout_s: int = 10

    def args(self) -> str:
        """``ANSIBLE_SSH_ARGS``: replaces Ansible's defaults, so it sets connection sharing itself."""
        options = {
            "ControlMaster": "auto",
            "ControlPersist": "60s",
            "StrictHostKeyChecking": "accept-new" if self.accept_new_host_keys else "yes",
            "UpdateHostKeys": "no",
            "BatchMode": "yes",
            "ServerAliveInterval": "5",
            "ServerAliveCountMax": "3",
        }
        if self.known_hosts is not None:
            options["UserKnownHostsFile"] = str(self.known_hosts)
        return " ".join(f"-o {key}={value}" for key, value in options.items())


class Engine:
    """Runs plays on an inventory's hosts with ansible-runner and reports each host's outcome."""

    def __init__(self, inventory: Path, work: Path, ssh: SshSettings, progress: Progress | None = None) -> None:
        self.bin_dir = require_ansible()
        self.inventory = inventory.resolve()
        if not self.inventory.exists():
            raise UserError(f"inventory {inventory} not found: give an Ansible inventory file (INI or YAML)")
        self.work = work
        self.ssh = ssh
        self.progress = progress or (lambda host, message: None)

    def envvars(self) -> dict[str, str]:
        """The environment of ``ansible-playbook``: strict keys, no retries, quiet, our control sockets."""
        return {
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_SSH_ARGS": self.ssh.args(),
            "ANSIBLE_SSH_RETRIES": "0",
            "ANSIBLE_PIPELINING": "True",  # modules go through the SSH session: no temp files, fewer round trips
            "ANSIBLE_TIMEOUT": str(self.ssh.connect_timeout_s),
            "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "True",
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"),
        }

    def hosts(self) -> dict[str, dict[str, Any]]:
        """Every host of the inventory with its variables, as ``ansible-inventory --list`` resolves them."""
        import ansible_runner

        self.work.mkdir(parents=True, exist_ok=True)
        out, err = ansible_runner.get_inventory(
            action="list",
            inventories=[str(self.inventory)],
            response_format="json",
            quiet=True,
            envvars=self.envvars(),
            private_data_dir=str(self.work),
        )
        try:
            listing = json.loads(out) if isinstance(out, str) else out
        except ValueError:
            raise UserError(f"inventory {self.inventory}: ansible-inventory could not read it: {_first_line(err or out)}") from None
        variables = listing.get("_meta", {}).get("hostvars", {})
        names = {h for group in listing.values() if isinstance(group, dict) for h in group.get("hosts", [])}
        if not names:
            raise UserError(f"inventory {self.inventory} lists no hosts")
        return {name: dict(variables.get(name, {})) for name in sorted(names)}

    def run(self, plays: list[Play], hosts: list[str], forks: int | None = None) -> dict[str, HostResult]:
        """Run ``plays`` on ``hosts``; each host's outcome, the results of its named tasks included."""
        import ansible_runner

        results = {host: HostResult(host) for host in hosts}

        def on_event(event: dict[str, Any]) -> bool:
            self._on_event(event, results)
            return event.get("event") in _KEPT_EVENTS  # a poll a second would write thousands of event files

        self.work.mkdir(parents=True, exist_ok=True)
        runner = ansible_runner.run(
            private_data_dir=str(self.work),
            playbook=plays,
            inventory=str(self.inventory),
            limit=",".join(hosts),
            envvars=self.envvars(),
            forks=forks or min(max(len(hosts), 1), 50),
            quiet=True,
            event_handler=on_event,
            rotate_artifacts=4,
        )
        last_task = plays[-1]["tasks"][-1]["name"]
        unfinished = [r for r in results.values() if r.fault is None and last_task not in r.results]
        if runner.rc not in (0, 2, 4) and unfinished:  # ansible-playbook itself stopped: every host it left half-done says so
            output = runner.stdout.read() if runner.stdout else ""
            why = f"ansible-playbook stopped (exit {runner.rc}, {runner.status}): {_last_line(output[-4000:]) or 'no output'}"
            for result in unfinished:
                result.fault, result.task, result.detail, result.message = "failed", "ansible-playbook", why, why
        return results

    def _on_event(self, event: dict[str, Any], results: dict[str, HostResult]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        host = data.get("host")
        if host not in results:
            return
        task = str(data.get("task", ""))
        res = data.get("res", {}) or {}
        result = results[host]
        if kind == "runner_on_ok":
            result.results[task] = res | {"_start": data.get("start"), "_end": data.get("end")}
            self.progress(host, f"{task}: {'changed' if res.get('changed') else 'ok'}{_took(data)}")
        elif kind == "runner_on_skipped":
            result.results[task] = {"skipped": True}
        elif kind == "runner_retry":
            result.results[task] = res
            self.progress(host, f"{task}: {_poll_line(res)}")
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failed_items = [item for item in res.get("results", []) if isinstance(item, dict) and item.get("failed")]
            res_why = failed_items[0] if failed_items else res  # a loop: the first item that failed says why
            message = "\n".join(str(res_why.get(key) or "") for key in ("msg", "stderr", "module_stderr", "module_stdout")).strip()
            everything = _strings(res_why)
            result.fault = classify("\n".join([message, *everything]), kind == "runner_on_unreachable")
            result.message, result.task = message, task
            result.detail = _disk_full_line(everything) if result.fault == "disk-full" else ""
            result.detail = result.detail or _last_line(str(res_why.get("stderr") or "")) or _first_line(message)
            result.results[f"{task} (failed)"] = res  # the task's last good result (a poll's) stays under its name
            self.progress(host, f"{task}: {result.line()}")


def _took(data: dict[str, Any]) -> str:
    start, end = data.get("start"), data.get("end")
    if not start or not end:
        return ""
    seconds = iso_s(end) - iso_s(start)
    return f" ({seconds:.1f} s)" if seconds >= 1 else ""


def iso_s(stamp: str) -> float:
    """Seconds since the epoch of an ansible-runner event time (ISO 8601, UTC, microseconds)."""
    from datetime import datetime, timezone

    return datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).timestamp()


def _poll_line(res: dict[str, Any]) -> str:
    """A retried poll's progress: the last line of the device's status file, or that it is not written yet."""
    import base64

    try:
        status = json.loads(base64.b64decode(res.get("content", "")))
    except ValueError:
        status = {}
    return str(status.get("line") or status.get("state") or "starting")
