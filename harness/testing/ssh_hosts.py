"""Real OpenSSH servers standing in for devices: one per network namespace, each behind its own veth link.

``SshHost`` starts Debian's ``sshd`` (package ``openssh-server``) inside a ``harness.network.netns.Testbed``
namespace, with its own host key and its own workdir (optionally a small tmpfs, a disk that fills up), and
optionally a shaped link. The hosts share this machine's filesystem and interpreter, as devices of one
image would; each has its own address, port, key and workdir. ``kill`` kills every process in the host's
namespace (the device losing power mid-run); ``rekey`` gives it a new host key (a reinstalled device).
Needs root, ``ip``, ``tc``, ``ssh-keygen`` and ``/usr/sbin/sshd``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from harness.errors import UserError
from harness.network.netns import Testbed
from harness.network.profiles import NetworkProfile

__all__ = ["SSHD", "ClientKey", "SshHost", "sshd_available", "write_inventory"]

SSHD = Path("/usr/sbin/sshd")
_READY_TIMEOUT_S = 10.0


def sshd_available() -> str:
    """Why namespaced sshd hosts cannot run here ("" when they can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "tc", "ssh-keygen", "ssh"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return "" if SSHD.is_file() else "needs Debian's openssh-server (/usr/sbin/sshd)"


def _keygen(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_suffix(".pub").unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)


class ClientKey:
    """The control host's login key for the fake devices."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.private = folder / "id_ed25519"
        _keygen(self.private)
        self.public = self.private.with_name("id_ed25519.pub").read_text(encoding="utf-8")


class SshHost:
    """One device: sshd in its own namespace at ``address``, its workdir at ``workdir``."""

    def __init__(
        self, name: str, folder: Path, key: ClientKey, profile: NetworkProfile | None = None, disk_bytes: int | None = None
    ) -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.workdir = folder / "arbench"
        self.workdir.mkdir(exist_ok=True)
        self.mounted = False
        self.testbed = Testbed(profile)
        self.process: subprocess.Popen[bytes] | None = None
        try:
            if disk_bytes is not None:
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={disk_bytes}", "tmpfs", str(self.workdir)], check=True)
                self.mounted = True
            (folder / "authorized_keys").write_text(key.public, encoding="utf-8")
            self.host_key = folder / "ssh_host_ed25519_key"
            _keygen(self.host_key)
            self._write_config()
            self.start()
        except BaseException:
            self.close()
            raise

    @property
    def address(self) -> str:
        """The host's IP address on its link."""
        return self.testbed.server_ip

    def known_hosts_line(self) -> str:
        """The host's key as a known_hosts line (what a lab's known_hosts holds for it)."""
        kind, blob = self.host_key.with_suffix(".pub").read_text(encoding="utf-8").split()[:2]
        return f"{self.address} {kind} {blob}\n"

    def _write_config(self) -> None:
        lines = [
            f"ListenAddress {self.address}",
            "Port 22",
            f"HostKey {self.host_key}",
            f"PidFile {self.folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.folder / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "MaxSessions 64",
            "MaxStartups 64",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
        ]
        (self.folder / "sshd_config").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> None:
        """Start sshd (again) and wait until it accepts connections."""
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        log = (self.folder / "sshd.log").open("ab")
        command = [*self.testbed.prefix, str(SSHD), "-D", "-e", "-f", str(self.folder / "sshd_config")]
        self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UserError(f"sshd of {self.name} exited: see {self.folder / 'sshd.log'}")
            try:
                with socket.create_connection((self.address, 22), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise UserError(f"sshd of {self.name} did not listen on {self.address}:22 within {_READY_TIMEOUT_S:g} s")

    def kill(self) -> None:
        """Kill -9 every process in the host's namespace: sshd, its sessions and the benchmark they started."""
        done = subprocess.run(["ip", "netns", "pids", self.testbed.namespace], capture_output=True, text=True, check=False)
        for pid in done.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)
            self.process = None

    def rekey(self) -> None:
        """A new host key (the device was reinstalled, or someone sits between): restart sshd with it."""
        self.kill()
        _keygen(self.host_key)
        self.start()

    def close(self) -> None:
        """Stop everything of the host and remove its namespace (and tmpfs)."""
        self.kill()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.workdir)], check=False)
            self.mounted = False
        self.testbed.close()


def write_inventory(path: Path, hosts: list[SshHost], key: ClientKey, python: str = "/usr/bin/python3", **variables: str) -> Path:
    """An Ansible INI inventory of ``hosts``: address, root login with ``key``, workdir, interpreter."""
    lines = ["[devices]"]
    extra = " ".join(f"{k}={v}" for k, v in variables.items())
    for host in hosts:
        lines.append(
            f"{host.name} ansible_host={host.address} ansible_user=root ansible_ssh_private_key_file={key.private}"
            f" ansible_python_interpreter={python} arbench_workdir={host.workdir} {extra}".rstrip()
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
